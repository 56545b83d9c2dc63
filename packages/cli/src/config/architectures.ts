/** Architectures the CLI accepts: the ones @cxr/models builds, with what validation needs. */
export { architectures, knownArchs, type ArchInfo } from '@cxr/models';

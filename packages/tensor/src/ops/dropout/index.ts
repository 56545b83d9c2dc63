export { dropout, dropoutBackward, type DropoutOptions } from './dropout.ts';

import { cxrTestConfig } from '../../vitest.shared.ts';

export default cxrTestConfig('web');

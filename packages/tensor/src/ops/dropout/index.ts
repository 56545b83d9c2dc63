export { dropout, dropoutBackward, type DropoutOptions } from './dropout.js';

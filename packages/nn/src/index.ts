export * from './autograd/tape.js';

export {
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  type MaxPool2dOptions,
  type AvgPool2dOptions,
} from './pool.ts';

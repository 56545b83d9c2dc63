// Exports of this op family; filled in by its kernels.
export {};

/**
 * Python source defining `runtime_blas()`: the BLAS that PyTorch's process has actually loaded.
 * Debian's torch reports BLAS_INFO=generic at build time whatever library the libblas.so.3
 * alternative points to, and the reference BLAS and OpenBLAS differ ~50x on matmuls (VGG16's
 * classifier), so a baseline names the library it ran on. Call it after `import torch`.
 */
export const runtimeBlasPy = `
def runtime_blas():
    import ctypes
    maps = open("/proc/self/maps").read()
    if "openblas" in maps:
        try:
            lib = ctypes.CDLL("libopenblas.so.0")
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return "OpenBLAS (%s kernels, %d threads)" % (lib.openblas_get_corename().decode(), lib.openblas_get_num_threads())
        except Exception:
            return "OpenBLAS"
    if "libmkl" in maps:
        return "MKL"
    if "blis" in maps:
        return "BLIS"
    if "/blas/libblas.so" in maps:
        return "reference BLAS (netlib)"
    return "unknown BLAS"
`;

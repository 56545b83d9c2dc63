/**
 * Python source defining `runtime_blas()`: the BLAS that PyTorch's process has actually loaded.
 * Debian's torch reports BLAS_INFO=generic at build time whatever library the libblas.so.3
 * alternative points to, and the reference BLAS and OpenBLAS differ tens of times on matmuls (VGG16's
 * classifier), so a baseline names the library it ran on. Call it after `import torch`.
 */
export const runtimeBlasPy = `
def runtime_blas():
    # The file that libblas.so.3's dgemm_ lives in: libtorch links libblas.so.3 before
    # liblapack.so.3, so that is the one its GEMMs call, even where the LAPACK alternative
    # points to another library (which then shows in the maps too).
    import ctypes
    path = ""
    try:
        addr = ctypes.cast(ctypes.CDLL("libblas.so.3").dgemm_, ctypes.c_void_p).value
        for line in open("/proc/self/maps"):
            f = line.split()
            lo, hi = (int(v, 16) for v in f[0].split("-"))
            if lo <= addr < hi and len(f) > 5:
                path = f[5]
                break
    except Exception:
        pass
    if "openblas" in path:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return "OpenBLAS (%s kernels, %d threads)" % (lib.openblas_get_corename().decode(), lib.openblas_get_num_threads())
        except Exception:
            return "OpenBLAS"
    if "mkl" in path:
        return "MKL"
    if "blis" in path:
        return "BLIS"
    if "/blas/" in path:
        return "reference BLAS (netlib)"
    return "unknown BLAS (%s)" % (path or "libblas.so.3 not found")
`;

"""Resizes raw 8-bit images with PIL for the resize parity test.

argv: in_path out_path width height mode(L|RGB) filter(bilinear|bicubic) out_w out_h
Reads raw HWC uint8, writes raw HWC uint8 of the PIL result.
"""
import sys
from PIL import Image

src, dst, w, h, mode, filt, ow, oh = sys.argv[1:]
w, h, ow, oh = int(w), int(h), int(ow), int(oh)
with open(src, 'rb') as f:
    img = Image.frombytes(mode, (w, h), f.read())
resample = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}[filt]
out = img.resize((ow, oh), resample)
with open(dst, 'wb') as f:
    f.write(out.tobytes())

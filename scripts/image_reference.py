#!/usr/bin/python3
"""Reference for modelkit's image decoding and preprocessing, for the C++ tests to compare against.

Decoding and resizing are PIL's own (Debian's python3-pil); the processors' steps are transformers'
image processors (ViT, DeiT, BEiT, SigLIP, Segformer, CLIP, Chinese-CLIP, BiT/DINOv2, MobileViT,
ConvNeXT, DETR) re-stated with numpy from their source (transformers 4.57), since transformers itself
is not installed: get_size_dict, get_resize_output_image_size, DETR's get_size_with_aspect_ratio,
ConvNeXT's crop_pct resize, center_crop with zero padding, rescale in float64 stored as float32,
normalize in float32, channels first.

Run with Debian's /usr/bin/python3 (python3-pil, python3-numpy):
  image_reference.py rgb IMAGE OUT                        decoded RGB, uint8 [H, W, 3]
  image_reference.py resize IMAGE WIDTH HEIGHT FILTER OUT  PIL resize of the RGB image (FILTER: PIL code)
  image_reference.py preprocess IMAGE CONFIG OUT           pixel_values, float32 [3, H, W]
  image_reference.py batch JOBS                            a JSON list of {"op": ..., ...} jobs, one process
  image_reference.py make-images DIR                       generated test images in every format variant
Output files: one ASCII line "u8|f32 DIM DIM ...\\n", then the array's raw little-endian bytes.

One deliberate difference from PIL: a 16-bit greyscale PNG opens as mode "I", whose convert("RGB")
clips every value above 255 to white; modelkit (and this reference) keeps the high byte instead, as
PIL itself does for 16-bit RGB and grey+alpha PNGs.
"""
import json
import math
import struct
import sys
import zlib

import numpy as np
from PIL import Image

IMAGENET_STANDARD = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
IMAGENET_DEFAULT = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
OPENAI_CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])


# ----------------------------------------------------------------------------- decoding

def load_rgb(path):
    im = Image.open(path)
    im.load()
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        high = (np.asarray(im).astype(np.int64) >> 8).clip(0, 255).astype(np.uint8)
        im = Image.fromarray(high, "L")
    return im.convert("RGB")


def write_array(path, array):
    array = np.ascontiguousarray(array)
    kind = {np.dtype(np.uint8): "u8", np.dtype(np.float32): "f32"}[array.dtype]
    with open(path, "wb") as f:
        f.write((kind + " " + " ".join(str(d) for d in array.shape) + "\n").encode())
        f.write(array.astype(array.dtype.newbyteorder("<")).tobytes())


# ----------------------------------------------------------------------------- transformers' helpers

def get_size_dict(size, max_size=None, default_to_square=True):
    if isinstance(size, dict):
        return {k: v for k, v in size.items() if v is not None}
    if isinstance(size, int) and default_to_square:
        return {"height": size, "width": size}
    if isinstance(size, int):
        d = {"shortest_edge": size}
        if max_size is not None:
            d["longest_edge"] = max_size
        return d
    if isinstance(size, (list, tuple)):
        return {"height": size[0], "width": size[1]}
    raise ValueError(f"cannot read size {size!r}")


def shortest_edge_output_size(height, width, size):
    # image_transforms.get_resize_output_image_size(default_to_square=False, max_size=None)
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def detr_output_size(height, width, size, max_size):
    # detr/image_processing_detr.get_size_with_aspect_ratio
    raw_size = None
    if max_size is not None:
        min_original_size = float(min((height, width)))
        max_original_size = float(max((height, width)))
        if max_original_size / min_original_size * size > max_size:
            raw_size = max_size * min_original_size / max_original_size
            size = int(round(raw_size))
    if (height <= width and height == size) or (width <= height and width == size):
        return height, width
    if width < height:
        ow = size
        oh = int(raw_size * height / width) if raw_size is not None else int(size * height / width)
    else:
        oh = size
        ow = int(raw_size * width / height) if raw_size is not None else int(size * width / height)
    return oh, ow


def resize(array, height, width, resample):
    # image_transforms.resize on a uint8 array: PIL resize, back to numpy.
    return np.array(Image.fromarray(array, "RGB").resize((width, height), resample=resample))


def center_crop(array, crop_height, crop_width):
    orig_height, orig_width = array.shape[:2]
    top = (orig_height - crop_height) // 2
    bottom = top + crop_height
    left = (orig_width - crop_width) // 2
    right = left + crop_width
    if top >= 0 and bottom <= orig_height and left >= 0 and right <= orig_width:
        return array[top:bottom, left:right]
    new_height = max(crop_height, orig_height)
    new_width = max(crop_width, orig_width)
    new_image = np.zeros_like(array, shape=(new_height, new_width, array.shape[2]))
    top_pad = math.ceil((new_height - orig_height) / 2)
    left_pad = math.ceil((new_width - orig_width) / 2)
    new_image[top_pad:top_pad + orig_height, left_pad:left_pad + orig_width] = array
    top += top_pad
    bottom += top_pad
    left += left_pad
    right += left_pad
    return new_image[max(0, top):min(new_height, bottom), max(0, left):min(new_width, right)]


def rescale(array, scale):
    return (array.astype(np.float64) * scale).astype(np.float32)


def normalize(array, mean, std):
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    mean = np.array(mean if isinstance(mean, list) else [mean] * 3, dtype=array.dtype)
    std = np.array(std if isinstance(std, list) else [std] * 3, dtype=array.dtype)
    return (array - mean) / std


# ----------------------------------------------------------------------------- the processors

# class -> (family, __init__ defaults)
PROCESSORS = {
    "ViTImageProcessor": ("exact", dict(size={"height": 224, "width": 224}, resample=2, mean=IMAGENET_STANDARD)),
    "SiglipImageProcessor": ("exact", dict(size={"height": 224, "width": 224}, resample=3, mean=IMAGENET_STANDARD)),
    "SegformerImageProcessor": ("exact", dict(size={"height": 512, "width": 512}, resample=2, mean=IMAGENET_DEFAULT)),
    "DeiTImageProcessor": ("exact_crop", dict(size={"height": 256, "width": 256}, resample=3, crop=True,
                                              crop_size=224, mean=IMAGENET_STANDARD)),
    "BeitImageProcessor": ("exact_crop", dict(size={"height": 256, "width": 256}, resample=3, crop=True,
                                              crop_size=224, mean=IMAGENET_STANDARD)),
    "CLIPImageProcessor": ("clip", dict(size={"shortest_edge": 224}, resample=3, crop=True, crop_size=224,
                                        mean=OPENAI_CLIP)),
    "ChineseCLIPImageProcessor": ("clip", dict(size={"shortest_edge": 224}, resample=3, crop=True, crop_size=224,
                                               mean=OPENAI_CLIP)),
    "BitImageProcessor": ("clip", dict(size={"shortest_edge": 224}, resample=3, crop=True, crop_size=224,
                                       mean=OPENAI_CLIP)),
    "MobileViTImageProcessor": ("mobilevit", dict(size={"shortest_edge": 224}, resample=2, crop=True,
                                                  crop_size={"height": 256, "width": 256}, flip=True)),
    "ConvNextImageProcessor": ("convnext", dict(size={"shortest_edge": 384}, resample=3, mean=IMAGENET_STANDARD)),
    "DetrImageProcessor": ("detr", dict(size={"shortest_edge": 800, "longest_edge": 1333}, resample=2,
                                        mean=IMAGENET_DEFAULT)),
    "ConditionalDetrImageProcessor": ("detr", dict(size={"shortest_edge": 800, "longest_edge": 1333}, resample=2,
                                                   mean=IMAGENET_DEFAULT)),
    "DeformableDetrImageProcessor": ("detr", dict(size={"shortest_edge": 800, "longest_edge": 1333}, resample=2,
                                                  mean=IMAGENET_DEFAULT)),
}


def class_name(config):
    name = config.get("image_processor_type") or config.get("feature_extractor_type") or ""
    if name.endswith("Fast"):
        name = name[:-4]
    if name.endswith("FeatureExtractor"):
        name = name[:-len("FeatureExtractor")] + "ImageProcessor"
    return name


def preprocess(image, config):
    family, defaults = PROCESSORS.get(class_name(config), ("generic", {}))
    get = lambda key, default: config[key] if config.get(key) is not None else default
    do_resize = get("do_resize", True)
    resample = get("resample", defaults.get("resample", 2))
    do_center_crop = get("do_center_crop", defaults.get("crop", False))
    crop_size = get_size_dict(get("crop_size", defaults.get("crop_size")))  if do_center_crop else None
    do_rescale = get("do_rescale", True)
    rescale_factor = get("rescale_factor", 1 / 255)
    has_normalize = family != "mobilevit"
    do_normalize = get("do_normalize", has_normalize) and has_normalize
    mean_std = defaults.get("mean", (None, None))
    image_mean = get("image_mean", mean_std[0])
    image_std = get("image_std", mean_std[1])
    flip = get("do_flip_channel_order", defaults.get("flip", False))

    array = np.array(image)  # uint8 [H, W, 3]
    height, width = array.shape[:2]
    size = config.get("size")

    if family in ("exact", "exact_crop"):
        size = get_size_dict(size if size is not None else defaults["size"])
        if do_resize:
            array = resize(array, size["height"], size["width"], resample)
        if family == "exact_crop" and do_center_crop:
            array = center_crop(array, crop_size["height"], crop_size["width"])
    elif family in ("clip", "mobilevit"):
        size = get_size_dict(size if size is not None else defaults["size"], default_to_square=False)
        if do_resize:
            if "shortest_edge" in size:
                oh, ow = shortest_edge_output_size(height, width, size["shortest_edge"])
            else:
                oh, ow = size["height"], size["width"]
            array = resize(array, oh, ow, resample)
        if do_center_crop:
            array = center_crop(array, crop_size["height"], crop_size["width"])
    elif family == "convnext":
        size = get_size_dict(size if size is not None else defaults["size"], default_to_square=False)
        crop_pct = get("crop_pct", 224 / 256)
        if do_resize:
            shortest_edge = size["shortest_edge"]
            if shortest_edge < 384:
                oh, ow = shortest_edge_output_size(height, width, int(shortest_edge / crop_pct))
                array = center_crop(resize(array, oh, ow, resample), shortest_edge, shortest_edge)
            else:
                array = resize(array, shortest_edge, shortest_edge, resample)
    elif family == "detr":
        max_size = config.get("max_size", None if size is None else 1333)
        size = get_size_dict(size if size is not None else defaults["size"], max_size=max_size,
                             default_to_square=False)
        if do_resize:
            if "shortest_edge" in size and "longest_edge" in size:
                oh, ow = detr_output_size(height, width, size["shortest_edge"], size["longest_edge"])
            elif "max_height" in size:
                scale = min(size["max_height"] / height, size["max_width"] / width)
                oh, ow = int(height * scale), int(width * scale)
            else:
                oh, ow = size["height"], size["width"]
            array = resize(array, oh, ow, resample)
    else:
        # modelkit's generic reading: the size's keys choose the rule.
        if do_resize:
            size = get_size_dict(size, max_size=config.get("max_size"))
            if "height" in size:
                oh, ow = size["height"], size["width"]
            elif "shortest_edge" in size and "longest_edge" in size:
                oh, ow = detr_output_size(height, width, size["shortest_edge"], size["longest_edge"])
            elif "shortest_edge" in size:
                oh, ow = shortest_edge_output_size(height, width, size["shortest_edge"])
            elif "longest_edge" in size:
                # SAM's _get_preprocess_shape
                scale = size["longest_edge"] * 1.0 / max(height, width)
                oh, ow = int(height * scale + 0.5), int(width * scale + 0.5)
            else:
                scale = min(size["max_height"] / height, size["max_width"] / width)
                oh, ow = int(height * scale), int(width * scale)
            array = resize(array, max(oh, 1), max(ow, 1), resample)
        if do_center_crop:
            array = center_crop(array, crop_size["height"], crop_size["width"])

    if do_rescale:
        array = rescale(array, rescale_factor)
    if do_normalize:
        array = normalize(array, image_mean, image_std)
    if flip:
        array = array[..., ::-1]
    return np.ascontiguousarray(array.transpose(2, 0, 1)).astype(np.float32)


# ----------------------------------------------------------------------------- generated images

def synthetic_photo(width, height, seed):
    """Smooth shading, sharp edges and fine noise: what resampling filters are sensitive to."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 100 * np.sin(x / (width / 6.0) + seed) * np.cos(y / (height / 4.0))
    g = 255 * x / max(width - 1, 1)
    b = 255 * ((x // 17 + y // 13) % 2)
    cx, cy = width * 0.6, height * 0.4
    disc = (x - cx) ** 2 + (y - cy) ** 2 < (min(width, height) * 0.25) ** 2
    r = np.where(disc, 255 - r, r)
    image = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return image.clip(0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_raw(path, array, bit_depth, interlace=False):
    """A PNG writer for what PIL cannot write: 16-bit RGB and Adam7-interlaced images."""
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    dtype = ">u2" if bit_depth == 16 else "u1"
    array = array.reshape(height, width, channels).astype(dtype)

    def rows(sub):
        return b"".join(b"\x00" + sub[y].tobytes() for y in range(sub.shape[0]))

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(rows(array[y0::dy, x0::dx]) for x0, y0, dx, dy in passes
                       if array[y0::dy, x0::dx].size)
    else:
        raw = rows(array)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9))
                + png_chunk(b"IEND", b""))


def make_images(folder):
    import os
    os.makedirs(folder, exist_ok=True)
    p = lambda name: os.path.join(folder, name)
    landscape = synthetic_photo(333, 217, 1)
    portrait = synthetic_photo(190, 301, 2)
    square = synthetic_photo(512, 512, 3)
    rgb = Image.fromarray(landscape, "RGB")
    rgb.save(p("gen_rgb_odd.png"))
    Image.fromarray(portrait, "RGB").save(p("gen_portrait.jpg"), quality=90)
    Image.fromarray(square, "RGB").save(p("gen_square_512.jpg"), quality=92)
    rgb.save(p("gen_progressive.jpg"), quality=85, progressive=True)
    rgb.save(p("gen_444.jpg"), quality=95, subsampling=0)
    rgb.convert("CMYK").save(p("gen_cmyk.jpg"), quality=90)
    rgb.convert("L").save(p("gen_gray.png"))
    rgb.convert("L").save(p("gen_gray.jpg"), quality=90)
    alpha = Image.fromarray(np.linspace(0, 255, 333 * 217).reshape(217, 333).astype(np.uint8), "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    rgba.save(p("gen_rgba.png"))
    la = rgb.convert("L")
    la.putalpha(alpha)
    la.save(p("gen_la.png"))
    palette = rgb.quantize(colors=200)
    palette.save(p("gen_palette.png"), transparency=3)
    rgb.quantize(colors=16).save(p("gen_palette_4bit.png"), bits=4)
    rgb.convert("1").save(p("gen_1bit.png"))
    gray16 = (np.asarray(rgb.convert("L")).astype(np.uint32) * 257 + 100).clip(0, 65535).astype(np.uint16)
    write_png_raw(p("gen_gray16.png"), gray16, 16)
    write_png_raw(p("gen_rgb16.png"), landscape.astype(np.uint16) * 257 + 77, 16)
    write_png_raw(p("gen_interlaced.png"), portrait, 8, interlace=True)
    Image.fromarray(synthetic_photo(3, 2, 4), "RGB").save(p("gen_tiny.png"))

    # Broken files: each must give a clean error, never a crash.
    with open(p("gen_square_512.jpg"), "rb") as f:
        jpeg = f.read()
    with open(p("gen_rgb_odd.png"), "rb") as f:
        png = f.read()
    with open(p("bad_truncated.jpg"), "wb") as f:
        f.write(jpeg[: len(jpeg) // 2])
    with open(p("bad_truncated.png"), "wb") as f:
        f.write(png[: len(png) // 2])
    corrupt = bytearray(png)
    for i in range(200, 260):
        corrupt[i] ^= 0x5A
    with open(p("bad_corrupt.png"), "wb") as f:
        f.write(bytes(corrupt))
    with open(p("bad_header_only.jpg"), "wb") as f:
        f.write(jpeg[:40])
    with open(p("bad_text.png"), "w") as f:
        f.write("this is not an image\n")
    open(p("bad_empty.jpg"), "wb").close()
    rgb.save(p("bad_gif.png"), format="GIF")
    # A header promising 100000 x 100000 pixels: must be refused before any allocation.
    huge = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    with open(p("bad_huge.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", huge) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                + png_chunk(b"IEND", b""))


# ----------------------------------------------------------------------------- driver

def run(job):
    op = job["op"]
    if op == "rgb":
        write_array(job["out"], np.array(load_rgb(job["image"])))
    elif op == "resize":
        image = load_rgb(job["image"]).resize((job["width"], job["height"]), resample=job["resample"])
        write_array(job["out"], np.array(image))
    elif op == "preprocess":
        with open(job["config"]) as f:
            config = json.load(f)
        write_array(job["out"], preprocess(load_rgb(job["image"]), config))
    elif op == "make-images":
        make_images(job["dir"])
    else:
        raise ValueError(f"unknown op {op!r}")


def main(argv):
    if len(argv) >= 2 and argv[0] == "batch":
        with open(argv[1]) as f:
            jobs = json.load(f)
        for job in jobs:
            run(job)
        return 0
    forms = {
        "rgb": lambda a: dict(op="rgb", image=a[0], out=a[1]),
        "resize": lambda a: dict(op="resize", image=a[0], width=int(a[1]), height=int(a[2]), resample=int(a[3]),
                                 out=a[4]),
        "preprocess": lambda a: dict(op="preprocess", image=a[0], config=a[1], out=a[2]),
        "make-images": lambda a: dict(op="make-images", dir=a[0]),
    }
    if not argv or argv[0] not in forms:
        print(__doc__, file=sys.stderr)
        return 2
    run(forms[argv[0]](argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

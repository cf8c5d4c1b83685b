"""The models the emulator runs, each with an OpenAPI schema shaped like the real one's.

A client that reads a model's schema to decide what to send (which input takes
the image, how many images it takes, whether a mask exists) can only be
tested against schemas that look like Replicate's. Each model here copies the
shape of its real counterpart's ``openapi_schema`` as Cog writes it: inputs in
``components.schemas.Input`` ordered by ``x-order``, files as
``{"type": "string", "format": "uri"}`` (or arrays of them), choices as an enum
component behind ``allOf``/``$ref``, optional inputs ``nullable``, and the
output in ``components.schemas.Output``. Input names, defaults, enums, bounds
and descriptions are the real models' as their model pages publish them;
where a page states a limit only in prose ("Maximum 8 images") the schema
does the same, because that is what a client will meet.

========================================  ==========================================
model                                     what it exercises
========================================  ==========================================
``black-forest-labs/flux-schnell``        text to image, 1-4 outputs (the default)
``black-forest-labs/flux-kontext-pro``    one edit image: ``input_image``; one output
``google/nano-banana``                    several images: ``image_input`` (no stated limit)
``black-forest-labs/flux-2-pro``          several images: ``input_images``, "Maximum 8"
``stability-ai/sdxl`` (version only)      ``image`` + ``mask``; tqdm progress in ``logs``
``imagegen-emulator/preview-stream``      iterator output: previews, then the image
========================================  ==========================================

Guesses (Replicate's docs are silent, or the real model is not open):

* the emulator keeps an input image's own size for ``match_input_image``
  (the real models re-render it at about one megapixel);
* prose limits ("Maximum 8 images") are enforced as a failed prediction, the
  way a model's own code rejects them, not as a ``422``;
* sdxl's tqdm lines arrive as whole lines in ``logs`` (Cog turns tqdm's
  carriage-return updates into lines; the exact bar characters are tqdm's defaults);
* ``imagegen-emulator/preview-stream`` has no real counterpart: it stands for
  Cog models whose output is an ``Iterator[Path]`` (``x-cog-array-type:
  iterator``) that yield intermediate renders before the final one, as
  pixray/text2image does. No image model on Replicate documents previews or
  streams them over ``urls.stream`` (server-sent events are documented for
  language models' text), so previews are polled as a growing ``output``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from imagegen_core import ImageSize, OutputFormat
from imagegen_testing.emulator.schema import (
    ASPECT_RATIOS,
    FLUX_SCHNELL,
    OUTPUT_FORMATS,
    ModelInput,
    image_size,
    validate_input,
)
from imagegen_testing.fake.images import size_for_aspect_ratio

__all__ = [
    "BUILTIN_MODELS",
    "FLUX_2_PRO",
    "FLUX_KONTEXT_PRO",
    "FLUX_SCHNELL",
    "FLUX_SCHNELL_MODEL",
    "FLUX_SCHNELL_VERSION",
    "NANO_BANANA",
    "PREVIEW_STREAM",
    "SDXL",
    "SDXL_VERSION",
    "EmulatedModel",
    "ImageInput",
    "flux_schnell_copy",
]

FLUX_SCHNELL_VERSION = "5f24084160c9089501c1b3545d9be3c27883ae2239b6f412990e82d4a6210f8f"
"""The version id the emulator gives flux-schnell (an arbitrary fixed 64-hex string)."""

FLUX_KONTEXT_PRO = "black-forest-labs/flux-kontext-pro"
NANO_BANANA = "google/nano-banana"
FLUX_2_PRO = "black-forest-labs/flux-2-pro"
SDXL = "stability-ai/sdxl"
SDXL_VERSION = "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc"
"""sdxl's real, widely used version id: it is run by version, not as an official model.

The other models' version ids are arbitrary fixed 64-hex strings."""
PREVIEW_STREAM = "imagegen-emulator/preview-stream"

OutputShape = Literal["array", "single", "iterator"]
SizeRule = Literal["aspect_megapixels", "aspect_or_match", "width_height"]

_ONE_MEGAPIXEL = 1024 * 1024
_MATCH = "match_input_image"
_CREATED_AT = "2024-08-01T00:00:00.000000Z"


@dataclass(frozen=True)
class ImageInput:
    """One input of a model that takes image files, as the emulator enforces it."""

    name: str
    many: bool = False
    """An array of images rather than one."""
    limit: int | None = None
    """Most images the model's code accepts (stated in prose, if at all)."""
    mask_for: str | None = None
    """This input is a mask for that image input."""


def _file(title: str, order: int, description: str, *, required: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "string",
        "title": title,
        "format": "uri",
        "x-order": order,
        "description": description,
    }
    if not required:
        spec["nullable"] = True
    return spec


def _files(title: str, order: int, description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "format": "uri"},
        "title": title,
        "default": [],
        "x-order": order,
        "description": description,
    }


def _choice(name: str, order: int, default: str, description: str) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": f"#/components/schemas/{name}"}],
        "default": default,
        "x-order": order,
        "description": description,
    }


def _number(kind: str, title: str, order: int, description: str, **bounds: Any) -> dict[str, Any]:
    return {"type": kind, "title": title, "x-order": order, "description": description, **bounds}


def _enum(name: str, values: Sequence[str]) -> dict[str, Any]:
    return {"enum": list(values), "type": "string", "title": name, "description": "An enumeration."}


def _prompt(description: str) -> dict[str, Any]:
    return {"type": "string", "title": "Prompt", "x-order": 0, "description": description}


def _seed(order: int) -> dict[str, Any]:
    return {
        "type": "integer",
        "title": "Seed",
        "x-order": order,
        "nullable": True,
        "description": "Random seed. Set for reproducible generation",
    }


def _output_quality(order: int) -> dict[str, Any]:
    return _number(
        "integer",
        "Output Quality",
        order,
        "Quality when saving the output images, from 0 to 100. 100 is best quality, "
        "0 is lowest quality. Not relevant for .png outputs",
        default=80,
        minimum=0,
        maximum=100,
    )


_URI_OUTPUT: dict[str, Any] = {"type": "string", "title": "Output", "format": "uri"}
_ARRAY_OUTPUT: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "format": "uri"},
    "title": "Output",
}


@dataclass(frozen=True)
class EmulatedModel:
    """A model: its schema, and how the emulator turns an input into images and logs.

    Args:
        name: ``owner/name``.
        version: The 64-hex version id the version endpoints and ``version`` field show.
        properties: ``components.schemas.Input.properties``.
        required: ``components.schemas.Input.required``.
        enums: Enum components the properties refer to, by name.
        output: ``components.schemas.Output``.
        official: Runs through ``POST /models/{owner}/{name}/predictions``;
            otherwise only by version.
        output_shape: ``array`` (a list of URLs), ``single`` (one URL string)
            or ``iterator`` (a list that grows while the model runs).
        size_rule: How the output size follows from the input.
        image_inputs: The inputs that carry image files.
        outputs_input: The input that says how many images to make, if any.
        steps_input: The input that says how many denoising steps to log, if
            the model logs tqdm progress.
        preview_input: For ``iterator`` models, the input that says every how
            many steps a preview is yielded before the image.
        default_format: The output format when the input names none.
    """

    name: str
    version: str
    properties: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...] = ("prompt",)
    enums: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    output: Mapping[str, Any] = field(default_factory=lambda: dict(_ARRAY_OUTPUT))
    official: bool = True
    output_shape: OutputShape = "array"
    size_rule: SizeRule = "aspect_or_match"
    image_inputs: tuple[ImageInput, ...] = ()
    outputs_input: str | None = None
    steps_input: str | None = None
    preview_input: str | None = None
    default_format: str = "webp"
    description: str = ""

    @property
    def components(self) -> dict[str, Any]:
        """``components.schemas``: Input, Output and the enums."""
        input_schema = {
            "type": "object",
            "title": "Input",
            "required": list(self.required),
            "properties": {name: dict(spec) for name, spec in self.properties.items()},
        }
        return {"Input": input_schema, "Output": dict(self.output), **self.enums}

    def openapi_schema(self) -> dict[str, Any]:
        """The version's ``openapi_schema``, the parts a client reads (Cog's layout)."""
        return {
            "openapi": "3.0.2",
            "info": {"title": "Cog", "version": "0.1.0"},
            "paths": {},
            "components": {"schemas": self.components},
        }

    def version_object(self) -> dict[str, Any]:
        """What ``GET /models/{owner}/{name}/versions/{id}`` returns."""
        return {
            "id": self.version,
            "created_at": _CREATED_AT,
            "cog_version": "0.9.0",
            "openapi_schema": self.openapi_schema(),
        }

    def model_object(self, origin: str) -> dict[str, Any]:
        """What ``GET /models/{owner}/{name}`` returns."""
        owner, name = self.name.split("/", 1)
        return {
            "url": f"{origin}/{self.name}",
            "owner": owner,
            "name": name,
            "description": self.description,
            "visibility": "public",
            "github_url": None,
            "paper_url": None,
            "license_url": None,
            "run_count": 0,
            "cover_image_url": None,
            "default_example": None,
            "latest_version": self.version_object(),
        }

    def validate(self, raw: object) -> ModelInput:
        """Check a create's ``input`` against this model's schema (``422`` on failure)."""
        components = self.components
        return validate_input(raw, components["Input"], components)

    def num_outputs(self, options: ModelInput) -> int:
        """How many images the input asks for."""
        if self.outputs_input is None:
            return 1
        return int(options.get(self.outputs_input, 1))

    def steps(self, options: ModelInput) -> int:
        """Denoising steps the model logs progress over (0: it logs none)."""
        if self.steps_input is None:
            return 0
        return int(options.get(self.steps_input, 0))

    def preview_steps(self, options: ModelInput) -> tuple[int, ...]:
        """The steps after which an ``iterator`` model yields a preview."""
        if self.preview_input is None:
            return ()
        every = int(options[self.preview_input])
        return tuple(range(every, self.steps(options), every))

    def output_format(self, options: ModelInput) -> str:
        """Replicate's spelling of the output format."""
        value = options.get("output_format", self.default_format)
        return value if value in OUTPUT_FORMATS else self.default_format

    def image_format(self, options: ModelInput) -> OutputFormat:
        """The encoded format of every output."""
        return OUTPUT_FORMATS[self.output_format(options)]

    def size(self, options: ModelInput, first_image: ImageSize | None) -> ImageSize:
        """Pixel size of every output, given the first input image's size (if any)."""
        if self.size_rule == "aspect_megapixels":
            return image_size(options["aspect_ratio"], options.get("megapixels", "1"))
        if self.size_rule == "width_height":
            return ImageSize(int(options["width"]), int(options["height"]))
        ratio = options.get("aspect_ratio", "1:1")
        if ratio == _MATCH:
            return first_image if first_image is not None else ImageSize(1024, 1024)
        if ratio in ASPECT_RATIOS:
            return ASPECT_RATIOS[ratio]
        return size_for_aspect_ratio(ratio, pixels=_ONE_MEGAPIXEL)


_ASPECT_RATIO_VALUES = tuple(ASPECT_RATIOS)

FLUX_SCHNELL_MODEL = EmulatedModel(
    name=FLUX_SCHNELL,
    version=FLUX_SCHNELL_VERSION,
    description="The fastest image generation model tailored for local development "
    "and personal use",
    properties={
        "prompt": _prompt("Prompt for generated image"),
        "aspect_ratio": _choice("aspect_ratio", 1, "1:1", "Aspect ratio for the generated image"),
        "num_outputs": _number(
            "integer",
            "Num Outputs",
            2,
            "Number of outputs to generate",
            default=1,
            minimum=1,
            maximum=4,
        ),
        "num_inference_steps": _number(
            "integer",
            "Num Inference Steps",
            3,
            "Number of denoising steps. 4 is recommended, and lower number of steps "
            "produce lower quality outputs, faster.",
            default=4,
            minimum=1,
            maximum=4,
        ),
        "seed": _seed(4),
        "output_format": _choice("output_format", 5, "webp", "Format of the output images"),
        "output_quality": _output_quality(6),
        "disable_safety_checker": {
            "type": "boolean",
            "title": "Disable Safety Checker",
            "default": False,
            "x-order": 7,
            "description": "Disable safety checker for generated images.",
        },
        "go_fast": {
            "type": "boolean",
            "title": "Go Fast",
            "default": True,
            "x-order": 8,
            "description": "Run faster predictions with model optimized for speed "
            "(currently fp8 quantized); disable to run in original bf16",
        },
        "megapixels": _choice(
            "megapixels", 9, "1", "Approximate number of megapixels for generated image"
        ),
    },
    enums={
        "aspect_ratio": _enum("aspect_ratio", _ASPECT_RATIO_VALUES),
        "output_format": _enum("output_format", ("webp", "jpg", "png")),
        "megapixels": _enum("megapixels", ("1", "0.25")),
    },
    size_rule="aspect_megapixels",
    outputs_input="num_outputs",
    default_format="webp",
)

_KONTEXT_RATIOS = (_MATCH, *_ASPECT_RATIO_VALUES, "2:1", "1:2")

FLUX_KONTEXT_PRO_MODEL = EmulatedModel(
    name=FLUX_KONTEXT_PRO,
    version="0f1178f5a27e9aa2d2d39c8a43c110f7fa7cbf64062ff04a04cd40899e546065",
    description="A state-of-the-art text-based image editing model",
    properties={
        "prompt": _prompt(
            "Text description of what you want to generate, or the instruction on how "
            "to edit the given image."
        ),
        "input_image": _file(
            "Input Image",
            1,
            "Image to use as reference. Must be jpeg, png, gif, or webp.",
        ),
        "aspect_ratio": _choice(
            "aspect_ratio",
            2,
            _MATCH,
            "Aspect ratio of the generated image. Use 'match_input_image' to match the "
            "aspect ratio of the input image.",
        ),
        "prompt_upsampling": {
            "type": "boolean",
            "title": "Prompt Upsampling",
            "default": False,
            "x-order": 3,
            "description": "Automatic prompt improvement",
        },
        "seed": _seed(4),
        "output_format": _choice(
            "output_format", 5, "png", "Output format for the generated image"
        ),
        "safety_tolerance": _number(
            "integer",
            "Safety Tolerance",
            6,
            "Safety tolerance, 0 is most strict and 6 is most permissive. 2 is currently "
            "the maximum allowed when input images are used.",
            default=2,
            minimum=0,
            maximum=6,
        ),
    },
    enums={
        "aspect_ratio": _enum("aspect_ratio", _KONTEXT_RATIOS),
        "output_format": _enum("output_format", ("jpg", "png")),
    },
    output=_URI_OUTPUT,
    output_shape="single",
    image_inputs=(ImageInput("input_image"),),
    default_format="png",
)

NANO_BANANA_MODEL = EmulatedModel(
    name=NANO_BANANA,
    version="f0a9d34b12ad1c1cd76269a844b218ff4e64e128ddaba93e15891f47368958a0",
    description="Google's latest image editing model in Gemini 2.5",
    properties={
        "prompt": _prompt("A text description of the image you want to generate"),
        "image_input": _files(
            "Image Input",
            1,
            "Input images to transform or use as reference (supports multiple images)",
        ),
        "aspect_ratio": _choice("aspect_ratio", 2, _MATCH, "Aspect ratio of the generated image"),
        "output_format": _choice("output_format", 3, "jpg", "Format of the output image"),
    },
    enums={
        "aspect_ratio": _enum("aspect_ratio", (_MATCH, *_ASPECT_RATIO_VALUES)),
        "output_format": _enum("output_format", ("jpg", "png")),
    },
    output=_URI_OUTPUT,
    output_shape="single",
    image_inputs=(ImageInput("image_input", many=True),),
    default_format="jpg",
)

FLUX_2_PRO_MODEL = EmulatedModel(
    name=FLUX_2_PRO,
    version="285631b5656a1839331cd9af0d82da820e2075db12046d1d061c681b2f206bc6",
    description="High-quality image generation and editing with support for eight reference images",
    properties={
        "prompt": _prompt("Text prompt for image generation"),
        "input_images": _files(
            "Input Images",
            1,
            "List of input images for image-to-image generation. Maximum 8 images. "
            "Must be jpeg, png, gif, or webp.",
        ),
        "aspect_ratio": _choice(
            "aspect_ratio",
            2,
            "1:1",
            "Aspect ratio for the generated image. Use 'match_input_image' to match the "
            "first input image's aspect ratio.",
        ),
        "safety_tolerance": _number(
            "integer",
            "Safety Tolerance",
            3,
            "Safety tolerance, 1 is most strict and 5 is most permissive",
            default=2,
            minimum=1,
            maximum=5,
        ),
        "seed": _seed(4),
        "output_format": _choice("output_format", 5, "webp", "Format of the output images."),
        "output_quality": _output_quality(6),
    },
    enums={
        "aspect_ratio": _enum("aspect_ratio", (_MATCH, *_ASPECT_RATIO_VALUES)),
        "output_format": _enum("output_format", ("webp", "jpg", "png")),
    },
    output=_URI_OUTPUT,
    output_shape="single",
    image_inputs=(ImageInput("input_images", many=True, limit=8),),
    default_format="webp",
)

SDXL_MODEL = EmulatedModel(
    name=SDXL,
    version=SDXL_VERSION,
    description="A text-to-image generative AI model that creates beautiful images",
    official=False,
    properties={
        "prompt": {
            "type": "string",
            "title": "Prompt",
            "default": "An astronaut riding a rainbow unicorn",
            "x-order": 0,
            "description": "Input prompt",
        },
        "negative_prompt": {
            "type": "string",
            "title": "Negative Prompt",
            "default": "",
            "x-order": 1,
            "description": "Input Negative Prompt",
        },
        "image": _file("Image", 2, "Input image for img2img or inpaint mode"),
        "mask": _file(
            "Mask",
            3,
            "Input mask for inpaint mode. Black areas will be preserved, white areas "
            "will be inpainted.",
        ),
        "width": _number("integer", "Width", 4, "Width of output image", default=1024),
        "height": _number("integer", "Height", 5, "Height of output image", default=1024),
        "num_outputs": _number(
            "integer",
            "Num Outputs",
            6,
            "Number of images to output.",
            default=1,
            minimum=1,
            maximum=4,
        ),
        "num_inference_steps": _number(
            "integer",
            "Num Inference Steps",
            7,
            "Number of denoising steps",
            default=25,
            minimum=1,
            maximum=500,
        ),
        "guidance_scale": _number(
            "number",
            "Guidance Scale",
            8,
            "Scale for classifier-free guidance",
            default=7.5,
            minimum=1,
            maximum=50,
        ),
        "prompt_strength": _number(
            "number",
            "Prompt Strength",
            9,
            "Prompt strength when using img2img / inpaint. 1.0 corresponds to full "
            "destruction of information in image",
            default=0.8,
            minimum=0,
            maximum=1,
        ),
        "seed": {
            "type": "integer",
            "title": "Seed",
            "x-order": 10,
            "description": "Random seed. Leave blank to randomize the seed",
        },
    },
    required=(),
    output_shape="array",
    size_rule="width_height",
    image_inputs=(ImageInput("image"), ImageInput("mask", mask_for="image")),
    outputs_input="num_outputs",
    steps_input="num_inference_steps",
    default_format="png",
)

PREVIEW_STREAM_MODEL = EmulatedModel(
    name=PREVIEW_STREAM,
    version="9e2a1c4f0b3d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
    description="Emulator-only: yields low-step previews, then the finished image",
    properties={
        "prompt": _prompt("Prompt for generated image"),
        "preview_every": _number(
            "integer",
            "Preview Every",
            1,
            "Yield a preview every this many steps; the last output is the image",
            default=2,
            minimum=1,
            maximum=8,
        ),
        "num_inference_steps": _number(
            "integer",
            "Num Inference Steps",
            2,
            "Number of denoising steps",
            default=6,
            minimum=1,
            maximum=50,
        ),
        "seed": _seed(3),
        "output_format": _choice("output_format", 4, "png", "Format of the output images"),
    },
    enums={"output_format": _enum("output_format", ("webp", "jpg", "png"))},
    output={**_ARRAY_OUTPUT, "x-cog-array-type": "iterator"},
    output_shape="iterator",
    steps_input="num_inference_steps",
    preview_input="preview_every",
    default_format="png",
)

BUILTIN_MODELS: tuple[EmulatedModel, ...] = (
    FLUX_SCHNELL_MODEL,
    FLUX_KONTEXT_PRO_MODEL,
    NANO_BANANA_MODEL,
    FLUX_2_PRO_MODEL,
    SDXL_MODEL,
    PREVIEW_STREAM_MODEL,
)
"""Every model an emulator runs unless told otherwise."""


def flux_schnell_copy(name: str, version: str) -> EmulatedModel:
    """flux-schnell's schema and behaviour under another name and version id."""
    return replace(FLUX_SCHNELL_MODEL, name=name, version=version)

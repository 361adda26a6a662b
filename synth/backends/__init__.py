"""Generation backends: vLLM in-process, and any OpenAI-compatible server."""

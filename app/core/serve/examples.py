"""Ready-to-paste examples for the server as it runs now: curl and the openai Python client.

The window's page and `serve` print the same text, with the real address, model and key in it, so what a
person copies works as it is.
"""

from __future__ import annotations

import json
import shlex

QUESTION = "What is the capital of France? Answer in one word."


def curl_example(base_url: str, key: str, model: str) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 100})
    return (f"curl {base_url}/chat/completions \\\n"
            f"  -H {shlex.quote('Authorization: Bearer ' + key)} \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(body)}")


def python_example(base_url: str, key: str, model: str) -> str:
    return (
        "from openai import OpenAI  # pip install openai\n"
        "\n"
        f"client = OpenAI(base_url={_q(base_url)}, api_key={_q(key)})\n"
        "reply = client.chat.completions.create(\n"
        f"    model={_q(model)},\n"
        f"    messages=[{{\"role\": \"user\", \"content\": {_q(QUESTION)}}}],\n"
        "    max_tokens=100,\n"
        ")\n"
        "print(reply.choices[0].message.content)\n"
    )


def _q(text: str) -> str:
    """A Python string literal in double quotes (JSON's escapes are Python's for these texts)."""
    return json.dumps(text, ensure_ascii=False)

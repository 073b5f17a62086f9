"""A minimal client for OpenAI-compatible chat endpoints (``POST {base_url}/chat/completions``).

Works with vLLM, Ollama, llama.cpp's server, OpenAI and Gemini's OpenAI-compatible endpoint:
set ``base_url`` (including ``/v1``), ``model`` and the *name* of the environment variable that
holds the API key (``api_key_env``; the key itself never appears in configs, logs, errors or
the cache). Uses only the standard library.

* timeouts per request; retries with exponential backoff (``backoff_s * 2**attempt``, or the
  server's ``Retry-After``) on network errors, timeouts, HTTP 408/409/425/429/5xx and replies
  that are not the protocol's JSON; other HTTP errors fail at once with the status and a short,
  key-redacted excerpt of the body;
* a disk cache keyed by (base_url, model, messages, temperature, seed, max_tokens): a rerun with
  the same settings reads the recorded reply instead of calling the server; another endpoint
  never gets the replies of the first;
* the key goes to ``base_url``'s origin only: ``Authorization`` is not carried over a redirect,
  and a redirect to another origin (scheme, host, port) is an error, not followed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genms.configs import ranged
from genms.io import atomic_write_json
from genms.paths import user_cache_dir

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 60.0
MAX_REPLY_BYTES = 4_000_000


class LLMError(RuntimeError):
    """The endpoint could not give a usable reply (the message says why; it never holds the key)."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = ranged(0.7, 0, 10)
    max_tokens: int = ranged(1024, 1, 1_000_000)
    timeout_s: float = ranged(60.0, 0, 3600, lo_open=True)
    max_retries: int = ranged(3, 0, 100)
    backoff_s: float = ranged(1.0, 0, MAX_BACKOFF_S)
    cache: bool = True
    cache_dir: str = "auto"  # auto: the user cache's "llm" folder
    prompt_version: str = "v1"
    formulae_per_call: int = ranged(20, 1, 1000)
    # proposal calls per request (each with a new seed) until n formulae survive
    max_calls: int = ranged(4, 1, 1000)
    max_known_in_prompt: int = ranged(200, 0, 100_000)
    rank: bool = True  # let the LLM rank R_hi's survivors when this backend is used


@dataclass(frozen=True)
class Reply:
    text: str
    cached: bool
    attempts: int


class ReplyCache:
    """Replies on disk, one JSON file per key (written atomically)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()

    @staticmethod
    def key(model: str, messages: list[dict], temperature: float, seed: int | None, max_tokens: int,
            base_url: str = "") -> str:
        blob = json.dumps(
            {
                "base_url": base_url.rstrip("/"),
                "model": model,
                "messages": messages,
                "temperature": temperature,
                "seed": seed,
                "max_tokens": max_tokens,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return str(json.loads(path.read_text())["reply"])
        except (OSError, ValueError, KeyError):
            log.warning("ignoring unreadable LLM cache file %s", path)
            return None

    def put(self, key: str, reply: str, meta: dict) -> None:
        atomic_write_json(self._path(key), {**meta, "reply": reply}, indent=None)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port filled in for http and https."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


class _CrossOriginRedirect(Exception):
    def __init__(self, code: int, target: str) -> None:
        super().__init__(target)
        self.code = code
        self.target = target


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the request's origin; another origin raises."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != origin(req.full_url):
            raise _CrossOriginRedirect(code, target)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def default_cache(cfg: LLMConfig) -> ReplyCache | None:
    if not cfg.cache:
        return None
    return ReplyCache(user_cache_dir() / "llm" if cfg.cache_dir == "auto" else cfg.cache_dir)


class ChatClient:
    """``complete(messages, seed)`` -> the assistant's text, with retries and the cache."""

    def __init__(self, cfg: LLMConfig, cache: ReplyCache | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not cfg.base_url.startswith(("http://", "https://")):
            raise LLMError(f"proposer.llm.base_url={cfg.base_url!r} must start with http:// or https://")
        if not cfg.model:
            raise LLMError("proposer.llm.model is empty; set it to the served model's name (e.g. "
                           "proposer.llm.model=llama3.1)")
        self.cfg = cfg
        self.cache = cache
        self.sleep = sleep
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self._opener = urllib.request.build_opener(_SameOriginRedirects)

    def _key(self) -> str:
        return os.environ.get(self.cfg.api_key_env, "") if self.cfg.api_key_env else ""

    def _redact(self, text: str) -> str:
        key = self._key()
        return text.replace(key, "***") if key else text

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        key = self._key()
        if key:  # an unredirected header: urllib never copies it onto a redirected request
            req.add_unredirected_header("Authorization", f"Bearer {key}")
        with self._opener.open(req, timeout=self.cfg.timeout_s) as resp:
            raw = resp.read(MAX_REPLY_BYTES)
        try:
            data = json.loads(raw.decode("utf-8", errors="replace"))
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Malformed(
                f"reply is not an OpenAI chat completion ({type(exc).__name__})"
            ) from exc
        if not isinstance(content, str):
            raise _Malformed("reply content is not text")
        return content

    def complete(
        self, messages: list[dict], seed: int | None = None, temperature: float | None = None
    ) -> Reply:
        temperature = self.cfg.temperature if temperature is None else temperature
        key = ReplyCache.key(
            self.cfg.model, messages, temperature, seed, self.cfg.max_tokens, self.cfg.base_url
        )
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                log.debug("LLM reply from cache (%s, key %s)", self.cfg.model, key[:12])
                return Reply(hit, True, 0)
        payload = {"model": self.cfg.model, "messages": messages, "temperature": temperature,
                   "max_tokens": self.cfg.max_tokens}
        if seed is not None:
            payload["seed"] = int(seed)
        body = json.dumps(payload).encode()
        last = "no attempt made"
        retry_after: float | None = None
        for attempt in range(self.cfg.max_retries + 1):
            if attempt:
                self.sleep(self._delay(attempt, retry_after))
            log.info("LLM call %s model=%s attempt %d", self.url, self.cfg.model, attempt + 1)
            try:
                text = self._post(body)
            except _CrossOriginRedirect as exc:
                scheme, host, port = origin(exc.target)
                raise LLMError(
                    f"{self.url} redirected (HTTP {exc.code}) to another origin "
                    f"{scheme}://{host}:{port}; "
                    "not followed, so the API key is not sent there: set proposer.llm.base_url to "
                    "the "
                    "endpoint you mean"
                ) from None
            except urllib.error.HTTPError as exc:
                excerpt = self._redact(_read_excerpt(exc))
                last = f"HTTP {exc.code}"
                retry_after = _retry_after(exc)
                if exc.code not in RETRY_STATUS:
                    raise LLMError(
                        f"{self.url} answered HTTP {exc.code} {exc.reason}: {excerpt}"
                    ) from None
                log.warning("LLM endpoint answered HTTP %d; retrying", exc.code)
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"network error: {self._redact(str(reason))}"
                retry_after = None
                log.warning("LLM endpoint unreachable (%s); retrying", last)
                continue
            except _Malformed as exc:
                last = str(exc)
                retry_after = None
                log.warning("LLM endpoint sent a malformed reply (%s); retrying", exc)
                continue
            if self.cache is not None:
                self.cache.put(
                    key,
                    text,
                    {
                        "model": self.cfg.model,
                        "temperature": temperature,
                        "seed": seed,
                        "prompt_sha256": hashlib.sha256(json.dumps(messages).encode()).hexdigest(),
                    },
                )
            return Reply(text, False, attempt + 1)
        raise LLMError(
            f"{self.url} gave no usable reply after {self.cfg.max_retries + 1} attempts (last: "
            f"{last}); check that the server is running and proposer.llm.base_url / model are right"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_S)
        return min(self.cfg.backoff_s * (2 ** (attempt - 1)), MAX_BACKOFF_S)


class _Malformed(Exception):
    pass


def _read_excerpt(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(2000).decode("utf-8", errors="replace").strip().replace("\n", " ")[:200]
    except Exception:
        return ""


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None

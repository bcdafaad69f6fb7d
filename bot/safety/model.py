"""The learned half of the crisis screen: hashed character and word n-grams and two linear heads.

It reads text in any of the languages it was trained on (English, Spanish, French, German,
Portuguese) and is robust to typos, missing accents, slang and run-on writing because its
features are character n-grams inside words plus word unigrams and bigrams.

* ``flag``: is this a crisis message at all (concern or urgent)?
* ``urgent``: is the risk imminent?

Each head is a logistic regression trained by ``training/safety/train.py`` on the texts in
``training/safety/data/``. The shipped file is ``data/safety_model.bin``; the training script
reproduces it byte for byte, and nothing is ever downloaded.

Long messages are scored in overlapping windows of words and the most worrying window
counts, so one risky clause inside a paragraph of ordinary news is not averaged away.

No discord import, no numpy: weights live in a stdlib :class:`array.array` (about 4 MiB),
loaded once at start on a worker thread. Scoring one message takes well under a millisecond.
This module never logs or stores the text it is given.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import struct
import sys
import unicodedata
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_MODEL_PATH",
    "MAGIC",
    "Featurizer",
    "LinearScreen",
    "ModelError",
    "Scores",
    "default_model",
    "model_normalise",
    "write_model",
]

DEFAULT_MODEL_PATH: Final[Path] = Path(__file__).resolve().parent.parent.parent / "data" / "safety_model.bin"
MAGIC: Final = b"PCSAFETY1\n"
HEADS: Final[tuple[str, ...]] = ("flag", "urgent")


class ModelError(ValueError):
    """The model file is missing, truncated or not a model this code can read."""


# --------------------------------------------------------------------------- normalisation

_APOSTROPHES: Final = "'\u2019\u2018\u201b\u02bc\u02b9\u0060\u00b4\u2032\uff07"
_INVISIBLE: Final = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
_TRANSLATE: Final = str.maketrans({**dict.fromkeys(_APOSTROPHES, None), **dict.fromkeys(_INVISIBLE, None)})
_LEET: Final = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_INNER: Final = re.compile(r"(?<=[a-z])[0134579@$]+(?=[a-z])")
_LETTER_RUNS: Final = re.compile(r"([a-z])\1{2,}")
_MENTION: Final = re.compile(r"<a?:[a-z0-9_]+:\d+>|<[@#][!&]?\d+>|https?://\S+")
# A token is a run of letters and digits, or one pictographic character (emoji carry meaning: 💀).
_TOKEN: Final = re.compile(r"[a-z0-9]+|[\U0001f000-\U0001faff\u2600-\u27bf]")
_SENTENCE: Final = re.compile(r"[.!?;\n]+")


def model_normalise(text: str) -> str:
    """Fold text the way the model sees it: NFKC, casefold, no accents, no apostrophes, no leetspeak."""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_TRANSLATE)
    t = "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))
    t = t.replace("ß", "ss").replace("æ", "ae").replace("œ", "oe").replace("ø", "o")
    t = _MENTION.sub(" ", t)
    t = _LEET_INNER.sub(lambda m: m.group().translate(_LEET), t)
    return _LETTER_RUNS.sub(r"\1", t)


# --------------------------------------------------------------------------- features


@dataclass(frozen=True)
class Featurizer:
    """Turns text into hashed feature ids. Training and the bot use this one class.

    A text's features are, for every word, its character n-grams (``char_min``..``char_max``,
    the word padded with a space on each side) and the word itself, plus every pair of
    neighbouring words inside a sentence. Each is hashed with CRC-32 into ``2**bits`` slots.
    Counts are kept (a word used twice counts twice) and a text's score is divided by the
    square root of its feature count, in training and in use alike.
    """

    bits: int = 20
    char_min: int = 2
    char_max: int = 5
    bigrams: bool = True
    _cache: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False, hash=False)

    CACHE_LIMIT: Final = 50_000

    @property
    def size(self) -> int:
        return 1 << self.bits

    def config(self) -> dict[str, Any]:
        return {"bits": self.bits, "char_min": self.char_min, "char_max": self.char_max, "bigrams": self.bigrams}

    def _hash(self, feature: str) -> int:
        return zlib.crc32(feature.encode("utf-8")) & (self.size - 1)

    def word(self, token: str) -> tuple[int, ...]:
        """Feature ids of one token (cached: a conversation reuses its words)."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        ids = [self._hash("w " + token)]
        if len(token) > 1 or token.isalnum():
            padded = f" {token} "
            n_chars = len(padded)
            for n in range(self.char_min, self.char_max + 1):
                if n > n_chars:
                    break
                ids.extend(self._hash(padded[i : i + n]) for i in range(n_chars - n + 1))
        result = tuple(ids)
        if len(self._cache) >= self.CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = result
        return result

    def sentences(self, text: str) -> list[list[str]]:
        """Normalised tokens, grouped by sentence."""
        norm = model_normalise(text)
        found = [_TOKEN.findall(part) for part in _SENTENCE.split(norm)]
        return [tokens for tokens in found if tokens]

    def positions(self, text: str) -> list[tuple[int, ...]]:
        """Feature ids per token position: a token's own ids plus the bigram it ends, if any."""
        out: list[tuple[int, ...]] = []
        for tokens in self.sentences(text):
            previous: str | None = None
            for token in tokens:
                ids = self.word(token)
                if self.bigrams and previous is not None:
                    ids = (*ids, self._hash(f"b {previous} {token}"))
                out.append(ids)
                previous = token
        return out

    def features(self, text: str) -> list[int]:
        """Every feature id of the whole text (with repeats)."""
        return [i for ids in self.positions(text) for i in ids]


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Scores:
    """Probabilities from the two heads, for the most worrying window of the message."""

    flag: float
    urgent: float


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True, eq=False)
class LinearScreen:
    """Two logistic-regression heads over :class:`Featurizer` ids, with the decision thresholds."""

    featurizer: Featurizer
    weights: Mapping[str, array]  # int16 per slot, per head
    scales: Mapping[str, float]
    biases: Mapping[str, float]
    thresholds: Mapping[str, float]
    window: int
    stride: int
    meta: Mapping[str, Any] = field(default_factory=dict)
    sha256: str = ""

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL_PATH) -> LinearScreen:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read the safety model at {path}: {exc.strerror}") from None
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> LinearScreen:
        if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 4:
            raise ModelError("not a peer-circles safety model file")
        offset = len(MAGIC)
        (header_len,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        try:
            header = json.loads(raw[offset : offset + header_len].decode("utf-8"))
            featurizer = Featurizer(**header["featurizer"])
            heads = {name: header["heads"][name] for name in HEADS}
            thresholds = {str(k): float(v) for k, v in header["thresholds"].items()}
            window, stride = int(header["window"]), int(header["stride"])
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the safety model header is malformed: {exc}") from None
        offset += header_len
        weights: dict[str, array] = {}
        for name in HEADS:
            arr = array("h")
            size = featurizer.size * arr.itemsize
            chunk = raw[offset : offset + size]
            if len(chunk) != size:
                raise ModelError("the safety model file is truncated")
            arr.frombytes(chunk)
            if sys.byteorder != "little":
                arr.byteswap()
            weights[name] = arr
            offset += size
        if offset != len(raw):
            raise ModelError("the safety model file has trailing bytes")
        return cls(
            featurizer=featurizer,
            weights=weights,
            scales={n: float(heads[n]["scale"]) for n in HEADS},
            biases={n: float(heads[n]["bias"]) for n in HEADS},
            thresholds=thresholds,
            window=window,
            stride=stride,
            meta=header.get("meta", {}),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    # ------------------------------------------------------------------ scoring

    def _windows(self, n: int) -> Iterable[tuple[int, int]]:
        yield 0, n
        if n > self.window:
            start = 0
            while start + self.window < n:
                yield start, start + self.window
                start += self.stride
            yield n - self.window, n

    def logits(self, text: str) -> tuple[float, float]:
        """The two heads' logits for the most worrying window (by the flag head)."""
        positions = self.featurizer.positions(text)
        if not positions:
            return self.biases["flag"], self.biases["urgent"]
        wf, wu = self.weights["flag"], self.weights["urgent"]
        # Prefix sums of each head's weight per token position, and of feature counts.
        pf, pu, pc = [0], [0], [0]
        sf = su = sc = 0
        for ids in positions:
            for i in ids:
                sf += wf[i]
                su += wu[i]
            sc += len(ids)
            pf.append(sf)
            pu.append(su)
            pc.append(sc)
        scale_f, scale_u = self.scales["flag"], self.scales["urgent"]
        best_f = best_u = -math.inf
        for a, b in self._windows(len(positions)):
            norm = math.sqrt(pc[b] - pc[a])
            lf = self.biases["flag"] + (pf[b] - pf[a]) * scale_f / norm
            lu = self.biases["urgent"] + (pu[b] - pu[a]) * scale_u / norm
            best_f = max(best_f, lf)
            best_u = max(best_u, lu)
        return best_f, best_u

    def scores(self, text: str) -> Scores:
        lf, lu = self.logits(text)
        return Scores(_sigmoid(lf), _sigmoid(lu))


@functools.lru_cache(maxsize=1)
def default_model() -> LinearScreen:
    """The shipped model at :data:`DEFAULT_MODEL_PATH`, loaded on first use and cached."""
    return LinearScreen.load(DEFAULT_MODEL_PATH)


# --------------------------------------------------------------------------- writing (training only)


def write_model(
    path: str | Path,
    *,
    featurizer: Featurizer,
    heads: Mapping[str, tuple[Sequence[float], float]],
    thresholds: Mapping[str, float],
    window: int,
    stride: int,
    meta: Mapping[str, Any],
) -> bytes:
    """Quantise each head's weights to int16 and write the model file. Returns the bytes written.

    ``heads`` maps ``flag`` and ``urgent`` to ``(weights, bias)`` with one weight per slot.
    The output depends only on its inputs (sorted JSON, fixed byte order), so training twice
    on the same data writes the same bytes.
    """
    header_heads: dict[str, dict[str, float]] = {}
    blobs: list[bytes] = []
    for name in HEADS:
        weights, bias = heads[name]
        if len(weights) != featurizer.size:
            raise ModelError(f"head {name}: expected {featurizer.size} weights, got {len(weights)}")
        peak = max((abs(float(w)) for w in weights), default=0.0) or 1.0
        scale = peak / 32767.0
        # Round the scale so it survives JSON exactly, then quantise with it.
        scale = float(f"{scale:.9e}")
        arr = array("h", (max(-32767, min(32767, round(float(w) / scale))) for w in weights))
        if sys.byteorder != "little":
            arr.byteswap()
        blobs.append(arr.tobytes())
        header_heads[name] = {"scale": scale, "bias": float(f"{float(bias):.9e}")}
    header = {
        "featurizer": featurizer.config(),
        "heads": header_heads,
        "thresholds": {k: float(f"{v:.6f}") for k, v in sorted(thresholds.items())},
        "window": window,
        "stride": stride,
        "meta": dict(meta),
    }
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    raw = MAGIC + struct.pack("<I", len(encoded)) + encoded + b"".join(blobs)
    Path(path).write_bytes(raw)
    return raw

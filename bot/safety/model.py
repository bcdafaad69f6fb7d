"""The learned half of the crisis screen: hashed character and word n-grams and two linear heads.

It reads text in any of the languages it was trained on (English, Spanish, French, German,
Portuguese) and is robust to typos, missing accents, slang and run-on writing because its
features are character n-grams (across word boundaries) plus words and word pairs, weighted
by how rare they were in training (TF-IDF).

* ``flag``: is this a crisis message at all (concern or urgent)?
* ``urgent``: is the risk imminent?

Each head is a logistic regression trained by ``training/safety/train.py`` on the texts in
``training/safety/data/``. The shipped file is ``data/safety_model.bin``; the training script
reproduces it byte for byte, and nothing is ever downloaded.

Long messages are also scored in overlapping windows of words and the most worrying window
counts, so one risky clause inside a paragraph of ordinary news is not averaged away.

No discord import, no numpy: weights live in stdlib :class:`array.array` objects (about 30 MiB resident with the IDF arrays; bench/safety_benchmark.py measures it),
loaded once at start on a worker thread. This module never logs or stores the text it is given.
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
MAGIC: Final = b"PCSAFETY2\n"
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

_SEED_CHARS: Final = 0x5AFE
_SEED_WORD: Final = 0xC0DE
_SEED_PAIR: Final = 0xBEEF
_SEED_SKIP: Final = 0xFACE


@dataclass(frozen=True)
class Featurizer:
    """Turns text into hashed feature ids, grouped by word position. Training and the bot share it.

    Per sentence, the normalised words are joined with single spaces and padded with one space
    at each end. Features are every byte n-gram of that string (``char_min``..``char_max``,
    spanning word boundaries, so "no quiero" and "kill my" are features too), every word and
    every pair of neighbouring words. Each is hashed with CRC-32 (a different seed per kind)
    into ``2**bits`` slots. An n-gram belongs to the word it starts in (or the word after the
    space it starts on); a pair belongs to its second word.
    """

    bits: int = 21
    char_min: int = 3
    char_max: int = 6
    # Also pair each word with the words 2..``skip`` before it in the sentence ("saving ... money"
    # is not "saving ... pills"); 1 means neighbours only.
    skip: int = 1

    @property
    def size(self) -> int:
        return 1 << self.bits

    def config(self) -> dict[str, Any]:
        return {"bits": self.bits, "char_min": self.char_min, "char_max": self.char_max, "skip": self.skip}

    def sentences(self, text: str) -> list[list[str]]:
        """Normalised tokens, grouped by sentence."""
        norm = model_normalise(text)
        found = [_TOKEN.findall(part) for part in _SENTENCE.split(norm)]
        return [tokens for tokens in found if tokens]

    def positions(self, text: str) -> list[list[int]]:
        """Feature ids per word position (with repeats), across the whole text."""
        mask = self.size - 1
        crc = zlib.crc32
        out: list[list[int]] = []
        for tokens in self.sentences(text):
            base = len(out)
            encoded = [t.encode("utf-8") for t in tokens]
            line = b" " + b" ".join(encoded) + b" "
            # owner[i]: the word position a byte offset belongs to (a space belongs to the next word).
            owner: list[int] = []
            for k, word in enumerate(encoded):
                owner.extend([base + k] * (len(word) + 1))
            owner.append(base + len(encoded) - 1)
            buckets: list[list[int]] = [[crc(w, _SEED_WORD) & mask] for w in encoded]
            for k in range(1, len(encoded)):
                buckets[k].append(crc(encoded[k - 1] + b" " + encoded[k], _SEED_PAIR) & mask)
                for gap in range(2, min(self.skip, k) + 1):
                    buckets[k].append(crc(encoded[k - gap] + b" " + encoded[k], _SEED_SKIP) & mask)
            length = len(line)
            for n in range(self.char_min, self.char_max + 1):
                for i in range(length - n + 1):
                    buckets[owner[i] - base].append(crc(line[i : i + n], _SEED_CHARS) & mask)
            out.extend(buckets)
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
    words: int = 0  # how many words the message has (a one-word reply carries little evidence)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True, eq=False)
class LinearScreen:
    """Two logistic-regression heads over :class:`Featurizer` ids, with the decision thresholds.

    A feature occurring in a window adds its weight (already multiplied by its inverse document
    frequency) to each head, and its squared IDF to the window's norm; a head's logit is its bias
    plus the weight sum divided by the square root of (the norm plus ``pad``). Training builds
    its rows the same way, so a text scores the same here as it did there.
    """

    featurizer: Featurizer
    weights: Mapping[str, array]  # int16 per slot, per head: weight x idf, quantised
    idf: array  # uint16 per slot, quantised; 0 for slots no training text had
    scales: Mapping[str, float]
    idf_scale: float
    biases: Mapping[str, float]
    thresholds: Mapping[str, float]
    window: int
    stride: int
    # Added to every window's squared norm: a short message is scored as if padded with neutral
    # words, so "no" or "tonight" alone can't carry the weight a whole sentence would.
    pad: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)
    sha256: str = ""
    _idf2: array = field(init=False, repr=False)  # idf squared (quantised units), for the norm

    def __post_init__(self) -> None:
        object.__setattr__(self, "_idf2", array("I", [v * v for v in self.idf]))

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
            idf_scale = float(header["idf_scale"])
            pad = float(header.get("pad", 0.0))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the safety model header is malformed: {exc}") from None
        offset += header_len
        inflater = zlib.decompressobj()
        try:
            body = inflater.decompress(raw[offset:])
        except zlib.error:
            raise ModelError("the safety model file is truncated or damaged") from None
        if not inflater.eof or inflater.unused_data:
            raise ModelError("the safety model file is truncated or has trailing bytes")
        arrays: list[array] = []
        position = 0
        for code in ("h", "h", "H"):
            arr = array(code)
            size = featurizer.size * arr.itemsize
            chunk = body[position : position + size]
            if len(chunk) != size:
                raise ModelError("the safety model file is truncated or damaged")
            arr.frombytes(chunk)
            if sys.byteorder != "little":
                arr.byteswap()
            arrays.append(arr)
            position += size
        if position != len(body):
            raise ModelError("the safety model file has trailing bytes")
        return cls(
            featurizer=featurizer,
            weights=dict(zip(HEADS, arrays[:2], strict=True)),
            idf=arrays[2],
            scales={n: float(heads[n]["scale"]) for n in HEADS},
            idf_scale=idf_scale,
            biases={n: float(heads[n]["bias"]) for n in HEADS},
            thresholds=thresholds,
            window=window,
            stride=stride,
            pad=pad,
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
        """The two heads' logits for the most worrying window of ``text``."""
        return self._logits(self.featurizer.positions(text))

    def _logits(self, positions: list[list[int]]) -> tuple[float, float]:
        bias_f, bias_u = self.biases["flag"], self.biases["urgent"]
        if not positions:
            return bias_f, bias_u
        # Prefix sums per word position: each head's weights, and the squared IDFs (the norm).
        # Slots no training text had hold 0 in all three arrays, so they add nothing.
        get_f, get_u, get_n = (
            self.weights["flag"].__getitem__,
            self.weights["urgent"].__getitem__,
            self._idf2.__getitem__,
        )
        pf, pu, pn = [0], [0], [0]
        sf = su = sn = 0
        for ids in positions:
            sf += sum(map(get_f, ids))
            su += sum(map(get_u, ids))
            sn += sum(map(get_n, ids))
            pf.append(sf)
            pu.append(su)
            pn.append(sn)
        scale_f, scale_u = self.scales["flag"], self.scales["urgent"]
        idf_squared, pad = self.idf_scale**2, self.pad
        best_f = best_u = -math.inf
        for a, b in self._windows(len(positions)):
            squared = pn[b] - pn[a]
            if not squared:
                best_f, best_u = max(best_f, bias_f), max(best_u, bias_u)
                continue
            norm = math.sqrt(squared * idf_squared + pad)
            best_f = max(best_f, bias_f + (pf[b] - pf[a]) * scale_f / norm)
            best_u = max(best_u, bias_u + (pu[b] - pu[a]) * scale_u / norm)
        return best_f, best_u

    def scores(self, text: str) -> Scores:
        positions = self.featurizer.positions(text)
        lf, lu = self._logits(positions)
        return Scores(_sigmoid(lf), _sigmoid(lu), len(positions))


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
    idf: Sequence[float],
    thresholds: Mapping[str, float],
    window: int,
    stride: int,
    meta: Mapping[str, Any],
    pad: float = 0.0,
) -> bytes:
    """Quantise and write the model file; returns the bytes written.

    ``heads`` maps ``flag`` and ``urgent`` to ``(weights, bias)`` with one weight per slot (the
    weight applied to an IDF-weighted feature); ``idf`` has one value per slot, 0 where no
    training text had the feature. The output depends only on its inputs (sorted JSON, fixed
    byte order, fixed compression level), so training twice on the same data writes the same bytes.
    """
    size = featurizer.size
    if len(idf) != size:
        raise ModelError(f"idf: expected {size} values, got {len(idf)}")
    peak_idf = max((float(v) for v in idf), default=0.0) or 1.0
    idf_scale = float(f"{peak_idf / 65535.0:.9e}")
    idf_q = array("H", (max(0, min(65535, round(float(v) / idf_scale))) for v in idf))
    header_heads: dict[str, dict[str, float]] = {}
    blobs: list[bytes] = []
    for name in HEADS:
        weights, bias = heads[name]
        if len(weights) != size:
            raise ModelError(f"head {name}: expected {size} weights, got {len(weights)}")
        # Fold the IDF into the weight: a feature adds weight x idf (quantised) to the sum.
        folded = [float(w) * (q * idf_scale) for w, q in zip(weights, idf_q, strict=True)]
        peak = max((abs(w) for w in folded), default=0.0) or 1.0
        scale = float(f"{peak / 32767.0:.9e}")
        arr = array("h", (max(-32767, min(32767, round(w / scale))) for w in folded))
        if sys.byteorder != "little":
            arr.byteswap()
        blobs.append(arr.tobytes())
        header_heads[name] = {"scale": scale, "bias": float(f"{float(bias):.9e}")}
    if sys.byteorder != "little":
        idf_q.byteswap()
    blobs.append(idf_q.tobytes())
    header = {
        "featurizer": featurizer.config(),
        "heads": header_heads,
        "idf_scale": idf_scale,
        "pad": float(f"{pad:.6e}"),
        "thresholds": {k: float(f"{v:.6f}") for k, v in sorted(thresholds.items())},
        "window": window,
        "stride": stride,
        "meta": dict(meta),
    }
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    raw = MAGIC + struct.pack("<I", len(encoded)) + encoded + zlib.compress(b"".join(blobs), 9)
    Path(path).write_bytes(raw)
    return raw

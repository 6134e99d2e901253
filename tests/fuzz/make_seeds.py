#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

    tests/fuzz/make_seeds.py          (re)write the seeds (gen-* files)

Seeds come from the recorded frames (tests/fixtures/pgoutput_v1.frames),
from messages built here (every type the encoder converts, old tuples,
unchanged TOAST values, truncate, messages, origin), from COPY lines and
from configuration files (config/walwire.example.conf and DESIGN.md's
section 6, kept as design-section-6.conf). Files named gen-* are rewritten by this script; any other file
in a corpus directory (crash-* regression inputs) is left alone.

Input formats (see the targets' header comments):
  fuzz_pgoutput  messages, each a big-endian uint16 length + bytes
  fuzz_frame     CopyData messages ('w' XLogData, 'k' keepalive), framed alike
  fuzz_copytext  ncols byte, type-offset byte, flags byte, the line
  fuzz_config    the file, optionally "\\n%env\\n" and NAME=value lines
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

# ---- pgoutput messages (protocol 1) -------------------------------------


def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v & 0xFFFFFFFF)
def u64(v): return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)
def cstr(s): return (s.encode() if isinstance(s, str) else s) + b"\0"


def begin(final_lsn, ts, xid): return b"B" + u64(final_lsn) + u64(ts) + u32(xid)
def commit(lsn, end, ts): return b"C" + u8(0) + u64(lsn) + u64(end) + u64(ts)
def origin(lsn, name): return b"O" + u64(lsn) + cstr(name)
def typ(oid, ns, name): return b"Y" + u32(oid) + cstr(ns) + cstr(name)


def relation(relid, ns, name, replident, cols):
    """cols: (is_key, name, oid, typmod)"""
    out = b"R" + u32(relid) + cstr(ns) + cstr(name) + replident.encode() + u16(len(cols))
    for key, cname, oid, typmod in cols:
        out += u8(1 if key else 0) + cstr(cname) + u32(oid) + u32(typmod)
    return out


def tuple_data(values):
    """values: None (NULL), Ellipsis (unchanged TOAST), str/bytes (text)."""
    out = u16(len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is Ellipsis:
            out += b"u"
        else:
            b = v.encode() if isinstance(v, str) else v
            out += b"t" + u32(len(b)) + b
    return out


def insert(relid, new): return b"I" + u32(relid) + b"N" + tuple_data(new)


def update(relid, new, old=None, kind="K"):
    out = b"U" + u32(relid)
    if old is not None:
        out += kind.encode() + tuple_data(old)
    return out + b"N" + tuple_data(new)


def delete(relid, old, kind="K"): return b"D" + u32(relid) + kind.encode() + tuple_data(old)


def truncate(relids, options): return b"T" + u32(len(relids)) + u8(options) + b"".join(u32(r) for r in relids)


def message(transactional, lsn, prefix, content):
    return b"M" + u8(1 if transactional else 0) + u64(lsn) + cstr(prefix) + u32(len(content)) + content


def framed(msgs):
    """The fuzz_pgoutput / fuzz_frame input framing."""
    out = b""
    for m in msgs:
        assert len(m) <= 0xFFFF
        out += u16(len(m)) + m
    return out


def xlogdata(start, payload): return b"w" + u64(start) + u64(start + len(payload)) + u64(757000000000000) + payload
def keepalive(end, reply): return b"k" + u64(end) + u64(757000000000000) + u8(reply)


# ---- values of every type the encoder converts --------------------------
# In the order of col_types[] in fuzz_copytext.c (which must match): the
# text output form of a value of each type, as the server writes it.
TYPES = [
    (23, -1, "42"), (25, -1, "hello\tworld \"q\" \\ é"), (20, -1, "-9223372036854775808"),
    (16, -1, "t"), (1700, -1, "-3.14159e0"), (701, -1, "1.5e+300"),
    (700, -1, "NaN"), (21, -1, "-32768"), (26, -1, "4294967295"),
    (17, -1, "\\x0a0bff"), (1082, -1, "2024-02-29"), (1083, -1, "13:45:01.123456"),
    (1083, 3, "23:59:59.999"), (1266, -1, "13:45:01+05:30"), (1114, -1, "2024-01-02 03:04:05.678901"),
    (1114, 3, "1999-12-31 23:59:59.999"), (1184, -1, "2024-01-02 03:04:05.678901+00"), (1184, 0, "infinity"),
    (1186, -1, "1 year 2 mons -3 days 04:05:06.789"), (790, -1, "-$1,234.56"), (1560, 1, "1"),
    (1560, 8, "10101010"), (1562, -1, "101"), (600, -1, "(1.5,-2)"),
    (603, -1, "(1,1),(0,0)"), (2950, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (114, -1, '{"a": [1, 2]}'),
    (3802, -1, '{"a": [1, 2]}'), (142, -1, "<a>x</a>"), (1042, 5, "ab   "),
    (1043, -1, "Zoë"), (18, -1, "x"), (19, -1, "pg_catalog"),
    (1000, -1, "{t,f,NULL}"), (1007, -1, "{{1,2},{3,4}}"), (1009, -1, '{"a b","c\\\\d\\"e",NULL,"NULL",""}'),
    (1016, -1, "{1,-2}"), (1021, -1, "{1.5,NaN,-Infinity}"), (1022, -1, "{1e-300,Infinity}"),
    (1020, -1, "{(1,1),(0,0);(2,2),(1,1)}"), (1017, -1, '{"(1,2)","(3,4)"}'), (1115, 3, '{"2024-01-02 03:04:05.678"}'),
    (1182, -1, "{2024-01-01,infinity,-infinity}"), (1183, -1, "{12:00:00}"), (1185, -1, '{"2024-01-02 03:04:05+00"}'),
    (1187, -1, '{"1 day","-00:00:01"}'), (1231, -1, "{1.0,NaN,-0.5}"), (1270, -1, "{12:00:00+01}"),
    (1561, 1, "{1,0}"), (1563, -1, '{101,""}'), (199, -1, '{"{\\"a\\":1}"}'),
    (2951, -1, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), (3807, -1, '{"[1, 2]"}'), (791, -1, '{"$1.00","-$2.50"}'),
    (1001, -1, '{"\\\\x00ff"}'), (3905, -1, '{"[1,5)"}'), (869, -1, "192.168.0.1/24"),
    (3904, -1, "[1,5)"), (16384, -1, "happy"), (16385, -1, "7"),
    (16386, -1, '"a"=>"1", "b"=>NULL, "c\\"d"=>"e\\\\f"'), (16387, -1, '{"\\"a\\"=>\\"1\\""}'), (16388, -1, '"k"=>"v"'),
    (16389, -1, "x"), (16390, -1, "{{a}}"), (16391, -1, "{t}"),
    (16392, -1, "{1,2}"), (16393, -1, "p"), (16395, -1, "{x}"),
    (16396, -1, '(1,"a b")'), (16397, -1, "CaSe"), (99999, -1, "whatever"),
]

# Odd ones: values that do not read as their type (written as strings).
ODD = {23: "01", 16: "yes", 1700: "1e", 1082: "2024-13-45", 17: "\\xabc", 1184: "2024-01-02 03:04:05+99:99"}


def all_types_relation(relid, replident="d"):
    cols = [(i == 0, "c%d_%d" % (i, oid), oid, typmod) for i, (oid, typmod, _) in enumerate(TYPES)]
    return relation(relid, "public", "all_types", replident, cols)


def all_types_row():
    return [v for (_, _, v) in TYPES]


def handmade_pgoutput():
    """name -> list of messages"""
    rel, full = 70001, 70003
    seeds = {}
    row = all_types_row()
    odd = [ODD.get(oid, v) for (oid, _, v) in TYPES]
    nulls = [None] * len(TYPES)
    toast = [row[0]] + [Ellipsis] * (len(TYPES) - 1)
    seeds["all-types-insert"] = [all_types_relation(rel), begin(0x3000, 757000000000000, 900),
                                 insert(rel, row), commit(0x3000, 0x3030, 757000000000000)]
    seeds["all-types-odd-values"] = [all_types_relation(rel), begin(0x3000, 0, 901), insert(rel, odd),
                                     insert(rel, nulls), commit(0x3000, 0x3030, 0)]
    seeds["all-types-full-update-delete"] = [
        all_types_relation(full, "f"), begin(0x4000, -1, 902),
        update(full, toast, row, "O"), update(full, row, odd, "K"), update(full, toast),
        delete(full, row, "O"), commit(0x4000, 0x4040, -1)]
    seeds["truncate-message-origin"] = [
        all_types_relation(rel), all_types_relation(full, "f"), begin(0x5000, 1, 903),
        origin(0xABCDEF, "upstream"), truncate([rel, full, 12345], 3),
        message(True, 0x5010, "walwire", b"in a \x00 transaction \xff"), commit(0x5000, 0x5050, 1),
        message(False, 0x5060, "pfx\"\\\x01\xc3", b"")]
    seeds["type-messages"] = [
        typ(16384, "public", "hstore"), typ(16397, "", "citext"), typ(99999, "s", "t"),
        all_types_relation(rel), begin(0x6000, 0, 904), insert(rel, row), commit(0x6000, 0x6060, 0)]
    seeds["relation-names-escaped"] = [
        relation(70005, "", "t\"ab\\le\x01", "n", [(True, "k\xe9y", 23, -1), (True, "\tk2", 25, -1),
                                                     (False, "k2", 25, -1)]),
        insert(70005, ["1", "two", "\xff\xfe"]), update(70005, ["1", None, Ellipsis]),
        delete(70005, ["1", None, None])]
    seeds["relation-replaced"] = [
        relation(70006, "s", "t", "d", [(True, "a", 23, -1)]), insert(70006, ["1"]),
        relation(70006, "s", "t", "i", [(True, "a", 23, -1), (True, "b", 1700, 655366)]),
        insert(70006, ["1"]), insert(70006, ["1", "2.5"])]
    seeds["wrong-widths"] = [
        relation(70007, "s", "t", "f", [(True, "a", 23, -1), (True, "b", 25, -1)]),
        insert(70007, ["1", "x", "extra"]), update(70007, ["1", "y"], ["1"], "O"), delete(70007, [], "K")]
    return seeds


def read_frames(path):
    data = open(path, "rb").read()
    frames, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        frames.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return frames


def fixture_sequences(frames):
    """One seed per frame: the Relation and Type messages seen before it
    (the latest per relid/oid), then the frame itself."""
    seeds, known = {}, {}
    for i, f in enumerate(frames):
        kind = chr(f[0])
        if kind in "RY":
            known[(kind, f[1:5])] = f
        msgs = [m for m in known.values() if m is not f] + [f]
        seeds["fixture-%02d-%s" % (i, kind)] = msgs
    seeds["fixture-whole-session"] = frames
    return seeds


# ---- COPY text rows ------------------------------------------------------


def copy_escape(v):
    if v is None:
        return "\\N"
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_seed(ncols, offset, last, fields, newline=True):
    line = "\t".join(copy_escape(f) for f in fields) + ("\n" if newline else "")
    return bytes([ncols, offset, 1 if last else 0]) + line.encode()


def copytext_seeds():
    vals = all_types_row()
    n = len(vals)
    seeds = {
        "types-0-63": copy_seed(64, 0, False, vals[0:64]),
        "types-64-end": copy_seed(n - 64, 64, True, vals[64:]),
        "types-rotated": copy_seed(40, 200, False, [vals[(200 + i) % n] for i in range(40)]),
        "nulls": copy_seed(5, 0, False, [None, "", None, "\\N", ""]),
        "escapes": copy_seed(3, 1, False, ["a\tb\nc\\d", "\b\f\r\v\x01", "end"], newline=False)
                   + b"",
        "octal-hex-escapes": bytes([3, 1, 0]) + b"\\101\\x41\\x4a\\7\\777\tq\\q\\\tx\\",
        "empty-row-no-columns": bytes([0, 0, 0]) + b"\n",
        "too-few-fields": bytes([4, 0, 0]) + b"1\t2\n",
        "too-many-fields": bytes([1, 0, 0]) + b"1\t2\n",
        "odd-values": copy_seed(n % 65, 0, False, [ODD.get(oid, v) for (oid, _, v) in TYPES][: n % 65]),
    }
    return seeds


# ---- configuration files -------------------------------------------------


def config_seeds():
    seeds = {}
    example = open(os.path.join(ROOT, "config", "walwire.example.conf"), encoding="utf-8").read()
    seeds["example-conf"] = example
    # DESIGN.md section 6's example is kept as corpus/fuzz_config/design-section-6.conf.
    minimal = "[source]\nconninfo = host=db dbname=app user=walwire\n\n[sink]\ntype = file\n\n[file]\npath = -\n"
    seeds["minimal"] = minimal
    seeds["minimal-env"] = minimal + "\n%env\nWALWIRE_SOURCE_SLOT=other\nWALWIRE_KAFKA_BOOTSTRAP_SERVERS=k:9092\n" \
        "WALWIRE_SOURCE_STATUS_INTERVAL=500ms\nWALWIRE_REDIS_URL=redis://:pw@h:6379/0\nWALWIRE_LOG_LEVEL=debug\n"
    seeds["env-only"] = "%env\nWALWIRE_SOURCE_CONNINFO=host=db\nWALWIRE_SINK_TYPE=null\n" \
        "WALWIRE_SOURCE_TABLES=public.users, \"My Schema\".\"My \"\"T\"\"\", orders\n"
    seeds["bad-env"] = minimal + "\n%env\nWALWIRE_NOPE_X=1\nWALWIRE_SOURCE=1\nWALWIRE__X=2\n"
    seeds["tables-and-sizes"] = "\ufeff[source]\n  conninfo = postgres://u:secret@h/db ; comment\n" \
        "tables = a.b, \"X\"\"Y\".z, c\nmax_inflight_bytes = 1GiB\nsnapshot_workers = 64\n" \
        "status_interval = 1h\nheartbeat_interval = 2m\nretained_wal_warn = 0\nshutdown_timeout = 0\n" \
        "[ sink ]\ntype = kafka\n[kafka]\nbootstrap.servers = a:1\nsasl.password = hunter2\n" \
        "[http]\nlisten = [::1]:9187\n[format]\ntemporal = iso8601\ntransactions = on\n"
    seeds["errors"] = "[source]\nconninfo = x\nslot = Bad-Slot\n"
    seeds["unknown-key"] = "[source]\nconinfo = x\n"
    seeds["key-outside-section"] = "conninfo = x\n[source]\n"
    seeds["set-twice"] = "[source]\nconninfo = a\nconninfo = b\n[sink]\ntype=null\n"
    seeds["nul-byte"] = "[source]\nconninfo = a\0b\n"
    seeds["long-line"] = "[sink]\ntype = file\n[file]\npath = " + "x" * 300 + "\n"
    return seeds


# ---- writing -------------------------------------------------------------


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("gen-"):
            os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(os.path.join(d, "gen-" + name), "wb") as f:
            f.write(data)
    print("%-14s %3d seeds" % (target, len(seeds)))


def main():
    frames = read_frames(os.path.join(ROOT, "tests", "fixtures", "pgoutput_v1.frames"))
    sequences = dict(fixture_sequences(frames))
    sequences.update(handmade_pgoutput())
    write("fuzz_pgoutput", {k: framed(v) for k, v in sequences.items()})

    frame_seeds = {}
    for k, msgs in sequences.items():
        lsn, out = 0x1000000, []
        for i, m in enumerate(msgs):
            out.append(xlogdata(lsn, m))
            lsn += len(m)
            if i % 4 == 3:
                out.append(keepalive(lsn, i % 8 == 7))
        frame_seeds[k] = framed(out)
    frame_seeds["keepalive-only"] = framed([keepalive(0x16B374D848, 1), keepalive(0, 0)])
    frame_seeds["bad-frames"] = framed([b"", b"w", b"k" + b"\0" * 17 + b"\1", b"r" + b"\0" * 33,
                                        b"w" + b"\0" * 24])
    write("fuzz_frame", frame_seeds)
    write("fuzz_copytext", copytext_seeds())
    write("fuzz_config", config_seeds())


if __name__ == "__main__":
    sys.exit(main())

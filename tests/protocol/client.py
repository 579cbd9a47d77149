#!/usr/bin/python3
"""client.py - a second implementation of docs/PROTOCOL.md, in Python.

It uses only pyzmq and the classes protoc generates from proto/, never the C
library, so when it passes the protocol document is enough to write a
client. Usage: client.py RATUSZD PROTO_DIR; it starts its own broker on free
ports with a temp data dir. Exits 0 when every check passed.
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import zmq


def free_port():
    """A port below the ephemeral range (where parallel tests' outgoing
    connections land) that binds now."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def main():
    ratuszd, proto_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="ratusz-py-")
    gen = os.path.join(work, "gen")
    os.mkdir(gen)
    protos = [os.path.join("ratusz/v1", p) for p in
              ("event.proto", "budget.proto", "env.proto", "tax.proto",
               "gis.proto", "api.proto", "options.proto")]
    subprocess.run(["protoc", "-I" + proto_dir, "--python_out=" + gen] + protos,
                   check=True)
    sys.path.insert(0, gen)
    from ratusz.v1 import api_pb2, event_pb2  # noqa: E402

    front = "tcp://127.0.0.1:%d" % free_port()
    stream = "tcp://127.0.0.1:%d" % free_port()
    # retention (section 7.1) of env events only: the budget checks below
    # never see it
    conf = os.path.join(work, "ratuszd.yaml")
    with open(conf, "w") as f:
        f.write('retention:\n  "1261011.env.": {max_age: 7d}\n'
                "retention_interval: 1s\nretention_hold_max: 20d\n")
    broker = subprocess.Popen([ratuszd, "-c", conf,
                               "--data-dir", os.path.join(work, "db"),
                               "--listen", front, "--stream", stream,
                               "--metrics", "off"])
    ctx = zmq.Context()
    failures = []
    passed = [0]

    def check(cond, what):
        print(("ok     " if cond else "FAILED ") + what)
        if cond:
            passed[0] += 1
        else:
            failures.append(what)

    try:
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.RCVTIMEO, 5000)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(front)
        corr = [0]

        def request(cmd, body=b""):
            corr[0] += 1
            c = corr[0].to_bytes(8, "big")
            dealer.send_multipart([cmd, c, body])
            rcmd, rcorr, rbody = dealer.recv_multipart()
            assert rcorr == c, "correlation echoed"
            return rcmd, rbody

        for _ in range(50):  # the broker may still be starting
            try:
                cmd, body = request(b"HEALTH")
                break
            except zmq.Again:
                time.sleep(0.1)
        health = api_pb2.Health.FromString(body)
        check(cmd == b"HEALTH" and health.protocol == 1, "HEALTH answers protocol 1")

        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"1261011.budget.")
        sub.connect(stream)
        time.sleep(0.3)

        # WATCH (section 8.1): a DEALER of its own; pushes carry its corr.
        watch = ctx.socket(zmq.DEALER)
        watch.setsockopt(zmq.RCVTIMEO, 5000)
        watch.setsockopt(zmq.LINGER, 0)
        watch.connect(front)
        wreq = api_pb2.WatchRequest(topic_prefix="1261011.budget.")
        watch.send_multipart([b"WATCH", b"w1", wreq.SerializeToString()])
        wcmd, wcorr, wbody = watch.recv_multipart()
        wrep = api_pb2.WatchReply.FromString(wbody)
        check(wcmd == b"WATCH" and wcorr == b"w1" and wrep.head_seq == 0
              and wrep.window >= 65536 and list(wrep.prefixes) == ["1261011.budget."],
              "WATCH answers the head, the window and the prefixes: %r" % wrep)

        # Pipelined publish: three PUBs in flight, then the replies.
        sent = []
        for i in range(3):
            ev = event_pb2.Event(id="py-%d" % i, source="/1261011/python/test",
                                 type="pl.gov.gmina.budget.execution.v1",
                                 tenant="1261011", subject="unit:py",
                                 time=1700000000000000 + i)
            ev.budget.dzial = "600"
            ev.budget.amount_grosze = 1250000 + i
            corr[0] += 1
            sent.append(corr[0].to_bytes(8, "big"))
            dealer.send_multipart([b"PUB", sent[-1], ev.SerializeToString()])
        seqs = []
        for c in sent:
            rcmd, rcorr, rbody = dealer.recv_multipart()
            acks = api_pb2.AckList.FromString(rbody)
            check(rcmd == b"PUB" and rcorr == c, "PUB acked in order")
            check(acks.durability == api_pb2.DURABILITY_SYNCED, "ack is synced")
            seqs.append(acks.acks[0].seq)
        check(seqs == [1, 2, 3], "seqs are 1, 2, 3: %r" % seqs)

        # A batch with a duplicate and an invalid event.
        batch = api_pb2.RawEventBatch()
        dup = event_pb2.Event(id="py-0", source="/1261011/python/test",
                              type="pl.gov.gmina.budget.execution.v1",
                              tenant="1261011", subject="unit:py",
                              time=1700000000000000)
        dup.budget.dzial = "600"
        dup.budget.amount_grosze = 1250000
        bad = event_pb2.Event(id="py-bad", source="/1261011/python/test",
                              type="pl.gov.gmina.budget.execution.v1",
                              tenant="Warszawa")
        other = event_pb2.Event(id="py-0", source="/1261011/python/test",
                                type="pl.gov.gmina.budget.execution.v1",
                                tenant="1261011")
        batch.events.extend([dup.SerializeToString(), bad.SerializeToString(),
                             other.SerializeToString()])
        cmd, body = request(b"PUBB", batch.SerializeToString())
        acks = api_pb2.AckList.FromString(body).acks
        check(acks[0].duplicate and acks[0].seq == 1, "republish returns the original seq")
        check(acks[2].code == -32017 and not acks[2].duplicate,
              "same id with other content acked with RZ_ECONFLICT: %r" % acks[2].reason)
        check(acks[1].code == -32005 and "tenant" in acks[1].reason,
              "invalid event acked with RZ_EINVALEVENT and a reason")

        # Live stream: three frames, position = seq + previous of the topic.
        got = []
        for _ in range(3):
            topic, pos, evb = sub.recv_multipart()
            seq = int.from_bytes(pos[:8], "big")
            prev = int.from_bytes(pos[8:], "big")
            got.append((topic, seq, prev, event_pb2.Event.FromString(evb).id))
        check(got[0] == (b"1261011.budget.execution.v1", 1, 0, "py-0"),
              "stream message 1 has topic, seq, prev 0: %r" % (got[0],))
        check([g[2] for g in got] == [0, 1, 2], "prev is the previous seq of the topic")

        # The same three events pushed to the watch, in seq order, and a
        # CREDIT (no reply) for what was consumed.
        pushed, consumed = [], 0
        while len(pushed) < 3:
            pcmd, pcorr, pbody = watch.recv_multipart()
            check(pcmd == b"EVENTS" and pcorr == b"w1", "a push is EVENTS with the WATCH's corr")
            lst = api_pb2.EventList.FromString(pbody)
            pushed += [e.seq for e in lst.events]
            consumed += len(pbody)
            check(lst.next_seq == pushed[-1] + 1, "next_seq is one past the push")
        check(pushed == [1, 2, 3], "the watch got seqs 1, 2, 3: %r" % pushed)
        watch.send_multipart([b"CREDIT", b"c",
                              api_pb2.Credit(consumed=consumed).SerializeToString()])
        watch.send_multipart([b"UNWATCH", b"w2", b""])
        ucmd, ucorr, _ = watch.recv_multipart()
        check(ucmd == b"UNWATCH" and ucorr == b"w2", "CREDIT has no reply, UNWATCH has one")
        watch.close()

        # Reads.
        cmd, body = request(b"GET", api_pb2.GetRequest(
            source="/1261011/python/test", id="py-2").SerializeToString())
        e = api_pb2.EventList.FromString(body).events[0]
        check(e.seq == 3 and e.principal == "anonymous" and e.ingest_time > 0
              and e.budget.amount_grosze == 1250002, "GET by id has broker fields")
        cmd, body = request(b"QUERY", api_pb2.QueryRequest(
            subject="unit:py", limit=2).SerializeToString())
        page = api_pb2.EventList.FromString(body)
        cmd, body = request(b"QUERY", api_pb2.QueryRequest(
            subject="unit:py", limit=2, after=page.next).SerializeToString())
        page2 = api_pb2.EventList.FromString(body)
        check([x.id for x in page.events] + [x.id for x in page2.events]
              == ["py-0", "py-1", "py-2"] and not page2.next,
              "QUERY pages through the subject with the cursor")
        # QUERY by pseudonym (PROTOCOL.md section 6): a malformed one is
        # refused by name; a well-formed one of nobody finds nothing
        cmd, body = request(b"QUERY", api_pb2.QueryRequest(
            pseudonym="~abc").SerializeToString())
        err = api_pb2.Error.FromString(body)
        check(cmd == b"ERR" and err.name == "RZ_EBADREQ"
              and "pseudonym" in err.message,
              "QUERY with a malformed pseudonym: %r" % err.message)
        cmd, body = request(b"QUERY", api_pb2.QueryRequest(
            pseudonym="~" + "a" * 26).SerializeToString())
        check(cmd == b"QUERY" and not api_pb2.EventList.FromString(body).events,
              "QUERY by a pseudonym of nobody: no events")
        ids = []
        frm = 1
        while True:
            cmd, body = request(b"REPLAY", api_pb2.ReplayRequest(
                from_seq=frm, chunk=2).SerializeToString())
            chunk = api_pb2.EventList.FromString(body)
            ids += [x.id for x in chunk.events]
            frm = chunk.next_seq
            if chunk.end:
                break
        check(ids == ["py-0", "py-1", "py-2"], "REPLAY streams in chunks to the end")

        # Consumer group.
        cmd, body = request(b"FETCH", api_pb2.FetchRequest(
            group="py", max=2).SerializeToString())
        f = api_pb2.EventList.FromString(body)
        check([x.seq for x in f.events] == [1, 2], "FETCH from the start")
        cmd, body = request(b"COMMIT", api_pb2.CommitRequest(
            group="py", seq=2).SerializeToString())
        g = api_pb2.ConsumerList.FromString(body).groups[0]
        check(cmd == b"COMMIT" and g.committed_seq == 2 and g.lag == 1,
              "COMMIT reports position and lag")

        # Retention (section 7.1): a group bound to env that reads nothing;
        # two events older than retention_hold_max and one young one.
        cmd, body = request(b"FETCH", api_pb2.FetchRequest(
            group="py-env", topic_prefix="1261011.env.",
            max=1).SerializeToString())
        now = int(time.time() * 1e6)
        env_seqs = []
        for i, age_days in enumerate((40, 39, 0)):
            ev = event_pb2.Event(id="py-env-%d" % i,
                                 source="/1261011/python/env",
                                 type="pl.gov.gmina.env.air.v1",
                                 tenant="1261011", subject="station:py",
                                 time=now - age_days * 86400 * 10**6)
            cmd, body = request(b"PUB", ev.SerializeToString())
            env_seqs.append(api_pb2.AckList.FromString(body).acks[0].seq)
        removed = 0
        for _ in range(100):
            cmd, body = request(b"STATS")
            rules = api_pb2.Stats.FromString(body).retention
            removed = rules[0].removed_events if rules else 0
            if removed == 2:
                break
            time.sleep(0.1)
        check(removed == 2 and rules[0].prefix == "1261011.env."
              and rules[0].oldest_seq == env_seqs[2],
              "STATS: retention removed 2 env events, keeps from seq %d"
              % env_seqs[2])
        cmd, body = request(b"GET", api_pb2.GetRequest(
            seq=env_seqs[0]).SerializeToString())
        err = api_pb2.Error.FromString(body)
        check(cmd == b"ERR" and err.name == "RZ_ENOTFOUND"
              and "removed by retention" in err.message,
              "GET of a removed event says so: %r" % err.message)
        cmd, body = request(b"FETCH", api_pb2.FetchRequest(
            group="py-env").SerializeToString())
        f = api_pb2.EventList.FromString(body)
        check([x.seq for x in f.events] == [env_seqs[2]] and f.lost == 2,
              "FETCH goes past removed events and tells the group it lost 2")

        # Errors.
        cmd, body = request(b"FOO")
        err = api_pb2.Error.FromString(body)
        check(cmd == b"ERR" and err.code == -32003 and err.name == "RZ_EUNKNOWNCMD"
              and "FOO" in err.message, "unknown command is named")
        cmd, body = request(b"PUB", b"\xff\xff\xff")
        check(api_pb2.AckList.FromString(body).acks[0].code == -32002,
              "garbage event is RZ_EDECODE")

        # QUERY redact (section 11): pseudonyms even for a cleared reader
        # (without security every connection is cleared).
        tax = event_pb2.Event(id="py-tax", source="/1261011/python/tax",
                              type="pl.gov.gmina.tax.assessment.v1",
                              tenant="1261011", subject="unit:py-tax",
                              time=1700000000000000)
        tax.tax.taxpayer.pesel = "80010100017"
        tax.tax.taxpayer.name = "TESTOWY JAN"
        cmd, body = request(b"PUB", tax.SerializeToString())
        check(api_pb2.AckList.FromString(body).acks[0].code == 0, "tax event acked")
        plain, red = [
            api_pb2.EventList.FromString(request(b"QUERY", api_pb2.QueryRequest(
                subject="unit:py-tax", redact=r).SerializeToString())[1]).events[0]
            for r in (False, True)]
        check(plain.tax.taxpayer.pesel == "80010100017" and not plain.redaction,
              "QUERY without redact: the stored values for a cleared reader")
        check(red.tax.taxpayer.pesel.startswith("~") and len(red.tax.taxpayer.pesel) == 27
              and red.tax.taxpayer.name.startswith("~")
              and red.redaction.startswith("hmac-sha256:"),
              "QUERY redact: pseudonyms and the redaction attribute: %r" % red.tax.taxpayer)

        # REQ sockets work too.
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 5000)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(front)
        req.send_multipart([b"HEALTH", b"r", b""])
        rcmd, rcorr, rbody = req.recv_multipart()
        check(rcmd == b"HEALTH" and rcorr == b"r", "a REQ socket gets its reply")
    finally:
        broker.terminate()
        rc = broker.wait(10)
        ctx.destroy(linger=0)
        shutil.rmtree(work, ignore_errors=True)
    check(rc == 0, "broker exits 0 on SIGTERM")
    print("%d passed, %d failed" % (passed[0], len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

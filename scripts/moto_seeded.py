#!/usr/bin/env python3
"""An S3 server (moto) that holds a dump before it listens, for outage tests.

Usage: moto_seeded.py PORT BUCKET PREFIX DIR [--exit-after-gets N]

Every file under DIR is stored as BUCKET/PREFIX/<relative path> in moto's
in-memory backend, then the server listens on 127.0.0.1:PORT and prints
"ready". moto keeps objects only in memory, so a restarted server is empty;
seeding before listening means no request ever finds the bucket missing, and
the same bytes give the same ETags (MD5 of the content for single-part
objects), so a reader's If-Match still holds. With --exit-after-gets N the
process exits abruptly on the (N+1)-th GET of a data object under PREFIX
(one whose name has no "-schema"): the server goes away mid-import, as a
crashed or restarted one does.
"""

import argparse
import os
import pathlib

from moto.s3.models import s3_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

# moto's default account.
ACCOUNT = "123456789012"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("bucket")
    parser.add_argument("prefix")
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--exit-after-gets", type=int)
    args = parser.parse_args()

    backend = s3_backends[ACCOUNT]["global"]
    backend.create_bucket(args.bucket, "us-east-1")
    for path in sorted(args.dir.rglob("*")):
        if path.is_file():
            key = f"{args.prefix}/{path.relative_to(args.dir).as_posix()}"
            backend.put_object(args.bucket, key, path.read_bytes())

    app = DomainDispatcherApplication(create_backend_app)
    objects = f"/{args.bucket}/{args.prefix}/"
    gets = 0

    def serve(environ, start_response):
        nonlocal gets
        if (
            args.exit_after_gets is not None
            and environ["REQUEST_METHOD"] == "GET"
            and environ["PATH_INFO"].startswith(objects)
            and "-schema" not in environ["PATH_INFO"]
        ):
            gets += 1
            if gets > args.exit_after_gets:
                os._exit(0)
        return app(environ, start_response)

    server = make_server("127.0.0.1", args.port, serve, threaded=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Creates a container on Azurite, signing the request with the account's
shared key (Azurite has no anonymous container creation, and no SDK is
needed for one request). Usage: objstore_azure.py ENDPOINT ACCOUNT KEY NAME
where ENDPOINT is http://host:port/ACCOUNT."""
import base64
import hashlib
import hmac
import sys
import urllib.request
from email.utils import formatdate

endpoint, account, key, name = sys.argv[1:5]
date = formatdate(usegmt=True)
version = "2021-08-06"
headers = f"x-ms-date:{date}\nx-ms-version:{version}\n"
resource = f"/{account}/{account}/{name}\nrestype:container"
to_sign = "PUT\n" + "\n" * 11 + headers + resource
signature = base64.b64encode(
    hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
).decode()
request = urllib.request.Request(
    f"{endpoint}/{name}?restype=container",
    method="PUT",
    headers={
        "x-ms-date": date,
        "x-ms-version": version,
        "Authorization": f"SharedKey {account}:{signature}",
        "Content-Length": "0",
    },
)
with urllib.request.urlopen(request) as response:
    assert response.status == 201, response.status

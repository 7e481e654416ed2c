#!/usr/bin/env python3
"""Round trip of cityloop's Open311 GeoReport v2 API with third-party client libraries
from PyPI, used unchanged:

- georeport 0.3.1: service list, definitions and requests, in JSON and in XML mode;
- civicbot 0.4.0: service list and definition, a POST validated against the live
  definition (a required singlevaluelist), the request read back, id lists, paging and
  a token lookup.

Usage: roundtrip.py ENDPOINT_ROOT TOKEN NUMBER
  ENDPOINT_ROOT  e.g. http://127.0.0.1:8080/open311/v2
  TOKEN, NUMBER  a case the client did not create (its internal id and its number)

Prints "roundtrip ok" and exits 0 when every check passes; any failure raises.
"""
import sys

from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client, ValidationError
from civicbot.registry import Endpoint
from georeport import GeoReport

JURISDICTION = "410103"
API_KEY = "demo-key"
SECRETS = ("civicbot.reporter@example.cn", "13700001111", "device-rt-9")


def as_list(x):
    """xmltodict gives a dict for one element and None for none."""
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def main(root, token, number):
    # ---- civicbot: a write client --------------------------------------
    endpoint = Endpoint(id="erqi", name="二七区", base_url=root, write=True)
    civic = Open311Client(
        endpoint,
        transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
        jurisdiction_id=JURISDICTION,
    )
    services = civic.list_services()
    check(len(services) == 250, "civicbot: 250 services")
    definition = civic.get_service_definition("01001")
    codes = [a["code"] for a in definition["attributes"]]
    check(codes[0] == "cover_state", "civicbot: the manhole question comes first")

    # civicbot refuses locally what the definition forbids.
    try:
        civic.create_request("01001", lat=34.7238, lng=113.6395, description="x",
                             validate_remote=True, api_key=API_KEY)
        raise AssertionError("civicbot accepted a report without the required attribute")
    except ValidationError as e:
        check("cover_state" in str(e), "civicbot: required attribute enforced from our definition")

    sent = civic.create_request(
        "01001", dry_run=False, confirm="SEND", api_key=API_KEY, validate_remote=True,
        lat=34.7238, lng=113.6395, address_string="郑州市二七区大学路与陇海路交叉口",
        description="civicbot 往返测试：井盖丢失", attributes={"cover_state": "missing"},
        media_url="https://img.example.cn/p/rt.jpg", email=SECRETS[0], phone=SECRETS[1],
        device_id=SECRETS[2], first_name="伟", last_name="张",
    )
    reply = sent.response
    check(isinstance(reply, list) and len(reply) == 1, "civicbot: POST reply is a one-element list")
    rid = reply[0]["service_request_id"]
    check(rid.startswith("410103-"), f"civicbot: created {rid}")
    check("token" not in reply[0], "civicbot: realtime, no token")

    got = civic.get_request(rid)
    check(got["status"] == "open" and got["service_code"] == "01001", "civicbot: read back open 01001")
    check(got["lat"] == 34.7238 and got["long"] == 113.6395, "civicbot: lat/long are numbers")
    check(got["media_url"] == "https://img.example.cn/p/rt.jpg", "civicbot: media_url shown")
    many = civic.list_requests(service_request_ids=[rid, number])
    check({r["service_request_id"] for r in many} == {rid, number}, "civicbot: every listed id returned")
    page = civic.list_requests(page_size=1)
    check(len(page) == 1, "civicbot: page_size honoured")
    tok = civic.get_token(token)
    check(tok[0]["service_request_id"] == number and tok[0]["token"] == token, "civicbot: token resolved")

    # ---- georeport: a read client, both formats --------------------------
    for fmt in ("json", "xml"):
        geo = GeoReport(root, jurisdiction=JURISDICTION, output_format=fmt)
        svcs = geo.get_service_list()
        check(len(svcs) == 250, f"georeport {fmt}: 250 services")
        cover = next(s for s in svcs if s["service_code"] == "01001")
        check(cover["service_name"] == "供水井盖异常", f"georeport {fmt}: Chinese service name")
        d = geo.get_service_definition("01001")
        attrs = as_list(d["attributes"]["attribute"] if fmt == "xml" else d["attributes"])
        check(attrs[0]["code"] == "cover_state", f"georeport {fmt}: definition read")
        one = geo.get_service_request(rid)
        check(one["service_request_id"] == rid, f"georeport {fmt}: one request")
        check(one["description"] == "civicbot 往返测试：井盖丢失", f"georeport {fmt}: description")
        # One item and two items (xmltodict gives a dict for one, a list for two).
        single = as_list(geo.get_service_requests(service_request_id=rid))
        check(len(single) == 1, f"georeport {fmt}: id filter with one match")
        both = as_list(geo.get_service_requests(service_request_id=f"{rid},{number}"))
        check(len(both) == 2, f"georeport {fmt}: id filter with two matches")
        listed = as_list(geo.get_service_requests(service_code="01001", status="open"))
        check(any(r["service_request_id"] == rid for r in listed), f"georeport {fmt}: filtered list")
        text = repr(svcs) + repr(one) + repr(both) + repr(listed)
        for s in SECRETS + ("张伟",):
            check(s not in text, f"georeport {fmt}: {s} is not shown")
    # An empty result (JSON; georeport's XML mode cannot read an empty list).
    geo = GeoReport(root, jurisdiction=JURISDICTION)
    check(geo.get_service_requests(service_code="99999") == [], "georeport json: empty list")
    print("roundtrip ok")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])

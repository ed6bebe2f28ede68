"""Makes the README's sample of what a customer receives for one order: serves the demo on a
throwaway SQLite file, buys two seats and two standing places as a signed-in customer over REST,
lets the built-in delivery worker write the confirmation (no SMTP host: an .eml file), and keeps
the e-mail and its PDF's first page as PNG (Debian's poppler-utils).
Run from the repository with the package installed: `python docs/tickets/take_sample.py`."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.server import data_dir_of, serving  # noqa: E402

HERE = Path(__file__).resolve().parent


def buy(base_url: str) -> str:
    """Register, sign in, hold seats 1 and 2 (Adult, Child) and two standing places, book, pay."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        account = {"email": "alex@example.com", "password": "a long enough passphrase"}
        http.post("/auth/register", json=account).raise_for_status()
        token = http.post(
            "/auth/token", data={"username": account["email"], "password": account["password"]}
        )
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        sections = http.get("/events/1/sections").json()
        seated = next(s for s in sections if s["kind"] == "seated")
        standing = next(s for s in sections if s["kind"] != "seated")
        seats = http.get(f"/events/1/sections/{seated['id']}/seats").json()
        cart = f"/orders/carts/{uuid.uuid4()}"
        for seat, level in ((seats[0], "Adult"), (seats[1], "Child")):
            price = next(p for p in seat["price_options"] if p["name"] == level)
            item = {"event_id": 1, "seat_id": seat["seat_id"], "price_id": price["id"]}
            http.post(cart, json=item).raise_for_status()
        places = http.get(f"/events/1/sections/{standing['id']}/seats").json()
        price = places[0]["price_options"][0]["id"]
        group = {"event_id": 1, "section_id": standing["id"], "price_id": price, "quantity": 2}
        http.post(f"{cart}/general-admission", json=group).raise_for_status()
        payment_id: str = http.put(f"{cart}/book").json()["payment_id"]
        http.post(f"/payments/{payment_id}/complete").raise_for_status()
        return payment_id


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite+aiosqlite:///{Path(folder) / 'sample.db'}"
        with serving(database_url, workers=1, demo=True) as base_url:
            payment_id = buy(base_url)
            mail = data_dir_of(database_url) / "mail"
            deadline = time.monotonic() + 30
            while not list(mail.glob("*order_confirmed*.eml")):
                assert time.monotonic() < deadline, "no confirmation was written"
                time.sleep(0.2)
        (written,) = mail.glob("*order_confirmed*.eml")
        (HERE / "order-confirmation.eml").write_bytes(written.read_bytes())
        message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
        (attachment,) = message.iter_attachments()  # type: ignore[attr-defined]
        pdf = Path(folder) / f"tickets-{payment_id}.pdf"
        pdf.write_bytes(attachment.get_content())
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "110",
                "-png",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(pdf),
                str(HERE / "ticket-page"),
            ],
            check=True,
        )
    print(f"wrote {HERE / 'order-confirmation.eml'} and {HERE / 'ticket-page.png'}")


if __name__ == "__main__":
    main()

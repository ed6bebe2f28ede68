/**
 * The cart panel: what the visitor holds, how long the holds last, and the next step (book, pay,
 * the tickets). It only shows state and reports the visitor's clicks: main.ts talks to the API.
 */
import type { Cart, CartItem, Ticket } from "./api";

export interface CartActions {
  release: (item: CartItem) => void;
  book: () => void;
  pay: () => void;
  startOver: () => void;
  /** The countdown reached zero: the holds (or the payment) lapsed; read the cart again. */
  lapsed: () => void;
}

function html<K extends keyof HTMLElementTagNameMap>(
  name: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function clock(milliseconds: number): string {
  const seconds = Math.max(0, Math.ceil(milliseconds / 1000));
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

export class CartPanel {
  private cart: Cart | null = null;
  private timer: number | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly actions: CartActions,
    /** "Stalls, row A, seat 5" for a cart item, from the seat map when it has the seat. */
    private readonly describe: (item: CartItem) => string,
    /** Test payments: this page may complete them; otherwise the provider reports. */
    private readonly testPayments: boolean,
  ) {}

  show(cart: Cart | null): void {
    this.cart = cart;
    window.clearInterval(this.timer);
    this.timer = undefined;
    this.root.replaceChildren(...this.content(cart));
    this.root.dataset.cartStatus = cart?.status ?? "";
    if (cart?.expiresAt && (cart.status === "OPEN" || cart.status === "BOOKED")) {
      this.tick();
      this.timer = window.setInterval(() => this.tick(), 250);
    }
  }

  /** Disables the buttons while a request runs, so that one click is one request. */
  busy(isBusy: boolean): void {
    this.root.querySelectorAll("button").forEach((button) => {
      button.disabled = isBusy;
    });
  }

  private tick(): void {
    const cart = this.cart;
    const countdown = this.root.querySelector<HTMLElement>(".countdown");
    if (cart?.expiresAt == null || countdown === null) {
      return;
    }
    const left = Date.parse(cart.expiresAt) - Date.now();
    const what = cart.status === "OPEN" ? "Held for" : "Pay within";
    countdown.textContent = `${what} ${clock(left)}`;
    countdown.classList.toggle("urgent", left < 60_000);
    if (left <= 0) {
      window.clearInterval(this.timer);
      this.timer = undefined;
      this.actions.lapsed();
    }
  }

  private content(cart: Cart | null): Node[] {
    const heading = html("h2", {}, "Your cart");
    if (cart === null || (cart.status === "OPEN" && cart.items.length === 0)) {
      const hint = "Choose a seat on the map, or a standing area.";
      return [heading, html("p", { class: "hint" }, hint)];
    }
    const nodes: Node[] = [heading];
    if (cart.status === "OPEN" || cart.status === "BOOKED") {
      nodes.push(html("p", { class: "countdown", role: "timer", "aria-live": "off" }));
    }
    if (cart.status === "PAID" && cart.payment !== null) {
      nodes.push(this.tickets(cart.payment.tickets));
    } else {
      nodes.push(this.items(cart));
    }
    const total = `${cart.total.amount} ${cart.total.currency}`;
    nodes.push(html("p", { class: "total" }, "Total ", html("strong", {}, total)));
    nodes.push(this.nextStep(cart));
    return nodes;
  }

  private items(cart: Cart): HTMLElement {
    const list = html("ul", { class: "items" });
    for (const item of cart.items) {
      const { amount, currency } = item.priceOption.price;
      const price = `${item.priceOption.name} · ${amount} ${currency}`;
      const row = html(
        "li",
        { "data-seat-id": item.seatId },
        html("span", { class: "item-name" }, this.describe(item)),
        html("span", { class: "item-price" }, price),
      );
      if (cart.status === "OPEN") {
        const release = html(
          "button",
          { type: "button", class: "link", "aria-label": `Release ${this.describe(item)}` },
          "Release",
        );
        release.addEventListener("click", () => this.actions.release(item));
        row.append(release);
      }
      list.append(row);
    }
    return list;
  }

  private tickets(tickets: Ticket[]): HTMLElement {
    const list = html("ul", { class: "tickets", "aria-label": "Your tickets" });
    for (const ticket of tickets) {
      const place =
        ticket.row === null
          ? `${ticket.section} (standing)`
          : `${ticket.section}, row ${ticket.row}, seat ${ticket.number ?? ""}`;
      const when = new Date(ticket.startsAt).toLocaleString(undefined, {
        dateStyle: "medium",
        timeStyle: "short",
      });
      list.append(
        html(
          "li",
          { class: "ticket", "data-ticket-id": ticket.id, "data-seat-id": ticket.seatId },
          html("strong", {}, ticket.eventName),
          html("span", {}, `${ticket.venueName} · ${when}`),
          html("span", {}, place),
          html("span", {}, `${ticket.priceName} · ${ticket.price.amount} ${ticket.price.currency}`),
          html("code", { class: "ticket-id" }, ticket.id),
        ),
      );
    }
    return list;
  }

  private nextStep(cart: Cart): HTMLElement {
    const step = html("div", { class: "next-step" });
    const button = (label: string, action: () => void, className = "primary"): void => {
      const node = html("button", { type: "button", class: className }, label);
      node.addEventListener("click", action);
      step.append(node);
    };
    switch (cart.status) {
      case "OPEN":
        button("Book", this.actions.book);
        break;
      case "BOOKED":
        if (this.testPayments) {
          step.append(html("p", { class: "hint" }, "Payments run in test mode."));
          button("Complete test payment", this.actions.pay);
        } else {
          step.append(html("p", { class: "hint" }, "Waiting for the payment provider…"));
        }
        break;
      case "PAID":
        step.append(html("p", { class: "done" }, "Paid: here are your tickets."));
        button("Buy more", this.actions.startOver, "secondary");
        break;
      case "FAILED":
      case "EXPIRED":
        step.append(html("p", { class: "hint" }, `This cart is ${cart.status.toLowerCase()}.`));
        button("Start again", this.actions.startOver, "secondary");
        break;
    }
    return step;
  }
}

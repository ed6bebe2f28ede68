/**
 * The seat-map page: pick an event, see its map live, hold seats or standing places at a price
 * level, book, pay (test payments), see the tickets. Wires the API (api.ts), the map (draw.ts over
 * seatmap.ts) and the cart panel (cart.ts) together; the server keeps every rule.
 */
import {
  ApiError,
  bookCart,
  completeTestPayment,
  followSeatMap,
  holdPlaces,
  holdSeat,
  listEvents,
  liveClient,
  loadCart,
  loadPayment,
  loadSeatChanges,
  loadSeatMap,
  paymentsMode,
  releaseSeat,
  type Cart,
  type CartItem,
  type EventSummary,
  type PriceLevel,
  type SeatMapChanges,
} from "./api";
import { CartPanel } from "./cart";
import { SeatMapView } from "./draw";
import { offerAt, SeatMapModel, seatName, type Seat, type Section } from "./seatmap";

const CART_KEY = "ticketing.cartId";
const PAYMENT_POLL_MS = 2000;
const RESUBSCRIBE_MS = 1000;

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) {
    throw new Error(`index.html has no #${id}`);
  }
  return node as T;
}

/** A version 4 uuid. crypto.randomUUID needs a secure context (https or localhost); a page
 * opened over plain http on a LAN has only getRandomValues. */
function newCartId(): string {
  if (typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return `${parts.join("-")}-${hex.slice(20)}`;
}

class Page {
  private events: EventSummary[] = [];
  private event: EventSummary | null = null;
  private priceLevels: PriceLevel[] = [];
  private priceId = "";
  private model: SeatMapModel | null = null;
  private cart: Cart | null = null;
  // the cart id survives a reload of the tab (sessionStorage), not the tab itself
  private cartId = sessionStorage.getItem(CART_KEY) ?? this.startCart();
  private stopFollowing: (() => void) | null = null;
  private paymentPoll: number | undefined;
  /** A request is running: a second click on the map meanwhile would repeat it. */
  private busy = false;
  private readonly live = liveClient((connected) => this.showConnection(connected));
  private readonly map: SeatMapView;
  private readonly panel: CartPanel;

  private readonly eventSelect = byId<HTMLSelectElement>("event");
  private readonly levels = byId<HTMLElement>("price-levels");
  private readonly standing = byId<HTMLElement>("standing");
  private readonly message = byId<HTMLElement>("message");
  private readonly connection = byId<HTMLElement>("connection");
  private readonly hover = byId<HTMLElement>("hover");

  constructor(private readonly testPayments: boolean) {
    this.map = new SeatMapView(byId("map"), byId("legend"), {
      onSeat: (seat) => void this.seatChosen(seat),
      onArea: (section) => this.areaChosen(section),
    });
    this.panel = new CartPanel(
      byId("cart"),
      {
        release: (item) => void this.release(item),
        book: () => void this.book(),
        pay: () => void this.pay(),
        startOver: () => this.startOver(),
        lapsed: () => void this.holdsLapsed(),
      },
      (item) => this.describe(item),
      testPayments,
    );
    this.eventSelect.addEventListener("change", () => void this.openEvent(this.eventSelect.value));
    byId("zoom-in").addEventListener("click", () => this.map.zoomBy(1.5));
    byId("zoom-out").addEventListener("click", () => this.map.zoomBy(1 / 1.5));
    byId("zoom-fit").addEventListener("click", () => this.map.fit());
    this.map.svg.addEventListener("pointerover", (event) => this.showHover(event.target));
    this.map.svg.addEventListener("focusin", (event) => this.showHover(event.target));
  }

  async start(): Promise<void> {
    this.events = await listEvents();
    this.eventSelect.replaceChildren(
      ...this.events.map((event) => {
        const when = new Date(event.startsAt).toLocaleDateString(undefined, {
          dateStyle: "medium",
        });
        return new Option(`${event.name} · ${when}`, event.id);
      }),
    );
    if (this.events.length === 0) {
      this.say("No events are on sale.");
      return;
    }
    await this.refreshCart();
    // the event in the address, else the one of the cart in hand, else the first
    const wanted =
      new URLSearchParams(location.hash.slice(1)).get("event") ?? this.cart?.items[0]?.eventId;
    const first = this.events.find((event) => event.id === wanted) ?? this.events[0];
    if (first !== undefined) {
      await this.openEvent(first.id);
    }
  }

  // ---- the event and its live map ----

  private async openEvent(eventId: string): Promise<void> {
    this.event = this.events.find((event) => event.id === eventId) ?? null;
    this.eventSelect.value = eventId;
    history.replaceState(null, "", `#event=${encodeURIComponent(eventId)}`);
    await this.reloadMap();
  }

  /** Reads the whole map and follows it from its version. */
  private async reloadMap(): Promise<void> {
    const event = this.event;
    if (event === null) {
      return;
    }
    this.stopFollowing?.();
    this.stopFollowing = null;
    const answer = await this.attempt(() => loadSeatMap(event.id));
    if (answer == null || this.event !== event) {
      return; // failed (said so), or another event was picked meanwhile
    }
    this.model = new SeatMapModel(event.id, answer.seatMap);
    this.priceLevels = answer.priceLevels;
    if (!this.priceLevels.some((level) => level.id === this.priceId)) {
      this.priceId = this.priceLevels[0]?.id ?? "";
    }
    this.map.render(this.model, event.currency);
    this.map.setPriceLevel(this.priceId);
    this.map.setMine(this.mySeatIds());
    this.drawPriceLevels();
    this.drawStanding();
    this.follow(this.model);
  }

  private follow(model: SeatMapModel): void {
    // Set once this subscription is over (ended, refused, or told to reload), so that it is
    // followed again at most once.
    let over = false;
    this.stopFollowing = followSeatMap(
      this.live,
      model.eventId,
      model.version,
      (changes) => {
        over ||= changes.reload; // the server ends the subscription after a reload
        this.changed(model, changes);
      },
      (error) => {
        if (over || this.model !== model) {
          return; // a subscription this page already replaced, or is replacing
        }
        over = true;
        // the server ended it or refused it: start again from the latest version seen
        console.warn("seat map subscription ended", error);
        window.setTimeout(() => {
          if (this.model === model) {
            this.stopFollowing?.();
            this.follow(model);
          }
        }, RESUBSCRIBE_MS);
      },
    );
  }

  private changed(model: SeatMapModel, changes: SeatMapChanges): void {
    if (this.model !== model) {
      return;
    }
    if (changes.reload) {
      void this.reloadMap();
      return;
    }
    this.map.update(model.apply(changes.version, changes.sections));
    this.drawStanding();
  }

  /** Our own holds lapsed: the cart drops them. The subscription brings the freed seats too;
   * reading them over HTTP as well keeps our own map right while the WebSocket reconnects. */
  private async holdsLapsed(): Promise<void> {
    await this.refreshCart();
    const model = this.model;
    if (model === null) {
      return;
    }
    const changes = await loadSeatChanges(model.eventId, model.version).catch(() => null);
    if (changes !== null && this.model === model) {
      this.changed(model, changes);
    }
  }

  private showConnection(connected: boolean): void {
    this.connection.dataset.connected = String(connected);
    this.connection.textContent = connected ? "Live" : "Reconnecting…";
  }

  // ---- choosing seats and places ----

  private drawPriceLevels(): void {
    const fieldset = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = "Price level";
    fieldset.append(legend);
    for (const level of this.priceLevels) {
      const input = Object.assign(document.createElement("input"), {
        type: "radio",
        name: "price-level",
        value: level.id,
        checked: level.id === this.priceId,
      });
      input.addEventListener("change", () => {
        this.priceId = level.id;
        this.map.setPriceLevel(level.id);
        this.drawStanding();
      });
      const label = document.createElement("label");
      label.append(input, level.name);
      fieldset.append(label);
    }
    this.levels.replaceChildren(fieldset);
  }

  /** One line per standing area: places left, price, how many to hold. */
  private drawStanding(): void {
    const areas = this.model?.sections.filter((s) => s.kind === "GENERAL_ADMISSION") ?? [];
    const rows = areas.map((section) => {
      const row = document.createElement("form");
      row.className = "standing-area";
      row.dataset.sectionId = section.id;
      const first = section.seats[0];
      const offer = first === undefined ? null : offerAt(first, this.priceId);
      const currency = this.event?.currency ?? "";
      const price = offer === null ? "not at this level" : `${offer.amount} ${currency}`;
      const name = document.createElement("span");
      name.className = "area-name";
      name.textContent = `${section.name}: ${section.availableCount} left · ${price}`;
      const quantity = Object.assign(document.createElement("input"), {
        type: "number",
        name: "quantity",
        min: "1",
        max: String(Math.max(1, section.availableCount)),
        value: "2",
        required: true,
      });
      quantity.setAttribute("aria-label", `Places in ${section.name}`);
      const hold = Object.assign(document.createElement("button"), {
        type: "submit",
        textContent: "Hold places",
        disabled: offer === null || section.availableCount === 0,
      });
      row.append(name, quantity, hold);
      row.addEventListener("submit", (event) => {
        event.preventDefault();
        void this.holdStanding(section, quantity.valueAsNumber);
      });
      return row;
    });
    // keep what the visitor is typing: only redraw the counts when the areas are the same
    const current = this.standing.querySelectorAll<HTMLFormElement>("form.standing-area");
    const sameAreas =
      current.length === rows.length &&
      rows.every((row, i) => current[i]?.dataset.sectionId === row.dataset.sectionId);
    if (sameAreas) {
      rows.forEach((row, i) => {
        const old = current[i];
        const oldName = old?.querySelector(".area-name");
        const oldHold = old?.querySelector("button");
        if (oldName && oldHold) {
          oldName.textContent = row.querySelector(".area-name")?.textContent ?? "";
          oldHold.disabled = row.querySelector("button")?.disabled ?? true;
        }
      });
      return;
    }
    this.standing.replaceChildren(...rows);
  }

  private areaChosen(section: Section): void {
    const input = this.standing.querySelector<HTMLInputElement>(
      `form[data-section-id="${section.id}"] input`,
    );
    input?.focus();
    input?.select();
  }

  private async seatChosen(seat: Seat): Promise<void> {
    const model = this.model;
    if (model === null || this.busy) {
      return;
    }
    const mine = this.cart?.items.find(
      (item) => item.seatId === seat.id && item.eventId === model.eventId,
    );
    if (mine !== undefined && this.cart?.status === "OPEN") {
      await this.release(mine);
      return;
    }
    if (model.status(seat) !== "available") {
      this.say(`${seatName(seat)} is not available.`);
      return;
    }
    if (offerAt(seat, this.priceId) === null) {
      this.say(`${seatName(seat)} is not offered at this price level.`);
      return;
    }
    const input = {
      cartId: this.openCartId(),
      eventId: model.eventId,
      seatId: seat.id,
      priceId: this.priceId,
    };
    const cart = await this.attempt(() => holdSeat(input));
    if (cart != null) {
      this.showCart(cart);
      this.say(`${seatName(seat)} is held for you.`);
    }
  }

  private async holdStanding(section: Section, quantity: number): Promise<void> {
    const event = this.event;
    if (event === null || this.busy || !(quantity >= 1)) {
      return;
    }
    const input = {
      cartId: this.openCartId(),
      eventId: event.id,
      sectionId: section.id,
      priceId: this.priceId,
      quantity,
    };
    const cart = await this.attempt(() => holdPlaces(input));
    if (cart != null) {
      this.showCart(cart);
      this.say(`${quantity} × ${section.name} held for you.`);
    }
  }

  // ---- the cart ----

  private startCart(): string {
    const id = newCartId();
    sessionStorage.setItem(CART_KEY, id);
    return id;
  }

  /** The cart to add to: a booked or finished cart is done, the next seat starts a new one. */
  private openCartId(): string {
    if (this.cart !== null && this.cart.status !== "OPEN") {
      this.cartId = this.startCart();
      this.cart = null;
    }
    return this.cartId;
  }

  private async refreshCart(): Promise<void> {
    const cart = await this.attempt(() => loadCart(this.cartId));
    if (cart != null) {
      this.showCart(cart);
    }
  }

  private showCart(cart: Cart): void {
    this.cart = cart;
    this.panel.show(cart);
    this.map.setMine(this.mySeatIds());
    window.clearTimeout(this.paymentPoll);
    if (cart.status === "BOOKED" && cart.payment !== null && !this.testPayments) {
      this.awaitPayment(cart.payment.id);
    }
  }

  /** Signed payments: the provider tells the server, so ask now and then whether it has. */
  private awaitPayment(paymentId: string): void {
    this.paymentPoll = window.setTimeout(async () => {
      const payment = await loadPayment(paymentId).catch(() => null);
      if (payment !== null && payment.status !== "PENDING") {
        await this.refreshCart();
      } else if (this.cart?.payment?.id === paymentId) {
        this.awaitPayment(paymentId);
      }
    }, PAYMENT_POLL_MS);
  }

  private mySeatIds(): string[] {
    const eventId = this.model?.eventId;
    const cart = this.cart;
    if (cart === null || cart.status === "FAILED" || cart.status === "EXPIRED") {
      return [];
    }
    return cart.items.filter((item) => item.eventId === eventId).map((item) => item.seatId);
  }

  private describe(item: CartItem): string {
    const seat = item.eventId === this.model?.eventId ? this.model.seat(item.seatId) : undefined;
    return seat === undefined ? `Seat ${item.seatId}` : seatName(seat);
  }

  private async release(item: CartItem): Promise<void> {
    const cart = await this.attempt(() =>
      releaseSeat({ cartId: this.cartId, eventId: item.eventId, seatId: item.seatId }),
    );
    if (cart != null) {
      this.showCart(cart);
    }
  }

  private async book(): Promise<void> {
    const cart = await this.attempt(() => bookCart(this.cartId));
    if (cart != null) {
      this.showCart(cart);
      this.say("Booked: your seats are kept until the payment's deadline.");
    }
  }

  private async pay(): Promise<void> {
    const paymentId = this.cart?.payment?.id;
    if (paymentId === undefined) {
      return;
    }
    const cart = await this.attempt(() => completeTestPayment(paymentId));
    if (cart != null) {
      this.showCart(cart);
      this.say("Paid: your tickets are in the cart panel.");
    }
  }

  private startOver(): void {
    this.cartId = this.startCart();
    this.cart = null;
    this.panel.show(null);
    this.map.setMine([]);
  }

  // ---- messages ----

  /** Runs a request with the panel's buttons disabled; says why when it fails. */
  private async attempt<T>(request: () => Promise<T>): Promise<T | null> {
    this.busy = true;
    this.panel.busy(true);
    try {
      return await request();
    } catch (error) {
      this.say(error instanceof ApiError ? error.message : "Something went wrong; try again.");
      if (error instanceof ApiError && error.code === "CART_NOT_OPEN") {
        void this.refreshCart();
      }
      return null;
    } finally {
      this.busy = false;
      this.panel.busy(false);
    }
  }

  private say(text: string): void {
    this.message.textContent = text;
  }

  private showHover(target: EventTarget | null): void {
    if (target instanceof Element) {
      const label = target.closest("[aria-label]")?.getAttribute("aria-label");
      if (label && label !== "Seat map") {
        this.hover.textContent = label;
      }
    }
  }
}

async function main(): Promise<void> {
  const mode = await paymentsMode().catch(() => "signed");
  await new Page(mode === "test").start();
}

main().catch((error: unknown) => {
  const message = document.getElementById("message");
  if (message !== null) {
    message.textContent = "The page could not start: is the server up?";
  }
  console.error(error);
});

/**
 * Drawing the seat map as SVG: section outlines and names, one circle per seat at its position,
 * coloured by status and by its price at the chosen price level, general-admission sections as
 * areas with a count, the stage (focal point), and zoom and pan for venues too big for a screen.
 */
import {
  offerAt,
  seatName,
  type Point,
  type Seat,
  type SeatMapModel,
  type Section,
  type SectionUpdate,
} from "./seatmap";

const SVG = "http://www.w3.org/2000/svg";
const SEAT_RADIUS = 0.42; // venue units: seats are about one unit apart
const PRICE_COLOURS = ["#2a9d8f", "#3a86ff", "#8338ec", "#e76f51", "#f4a261", "#e9c46a"];

export interface MapHandlers {
  /** A seat was chosen (click, tap, Enter or Space). */
  onSeat: (seat: Seat) => void;
  /** A general-admission area was chosen. */
  onArea: (section: Section) => void;
}

interface ViewBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

function element<K extends keyof SVGElementTagNameMap>(
  name: K,
  attributes: Record<string, string | number> = {},
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, String(value));
  }
  return node;
}

const points = (outline: readonly Point[]): string =>
  outline.map(([x, y]) => `${x},${y}`).join(" ");

export class SeatMapView {
  readonly svg: SVGSVGElement;
  private model: SeatMapModel | null = null;
  private priceId = "";
  private mine = new Set<string>();
  private currency = "";
  private colourByAmount = new Map<string, string>();
  private seatNodes = new Map<string, SVGCircleElement>();
  private areaNodes = new Map<string, SVGGElement>();
  private full: ViewBox = { x: 0, y: 0, w: 100, h: 100 };
  private view: ViewBox = this.full;

  constructor(
    container: HTMLElement,
    private readonly legend: HTMLElement,
    private readonly handlers: MapHandlers,
  ) {
    this.svg = element("svg", { class: "seat-map", role: "group", "aria-label": "Seat map" });
    container.append(this.svg);
    this.listen();
  }

  /** Draws a new map (another event, or a reload). */
  render(model: SeatMapModel, currency: string): void {
    this.model = model;
    this.currency = currency;
    this.seatNodes.clear();
    this.areaNodes.clear();
    this.svg.replaceChildren();
    this.full = this.bounds(model);
    this.view = { ...this.full };
    this.applyViewBox();

    if (model.focalPoint !== null) {
      this.svg.append(this.stage(model.focalPoint));
    }
    for (const section of model.sections) {
      this.svg.append(section.kind === "SEATED" ? this.seatedSection(section) : this.area(section));
    }
    this.recolour();
  }

  /** Colours available seats by their price at this level. */
  setPriceLevel(priceId: string): void {
    this.priceId = priceId;
    this.recolour();
  }

  /** The seats in the visitor's own cart, drawn as theirs. */
  setMine(seatIds: Iterable<string>): void {
    const before = this.mine;
    this.mine = new Set(seatIds);
    for (const id of new Set([...before, ...this.mine])) {
      const seat = this.model?.seat(id);
      if (seat !== undefined) {
        this.drawSeat(seat);
      }
    }
  }

  update(updates: SectionUpdate[]): void {
    for (const { section, indexes } of updates) {
      if (section.kind === "GENERAL_ADMISSION") {
        this.drawArea(section);
        continue;
      }
      const seats = indexes === "all" ? section.seats : indexes.map((i) => section.seats[i]);
      for (const seat of seats) {
        if (seat !== undefined) {
          this.drawSeat(seat);
        }
      }
    }
  }

  zoomBy(factor: number, centre?: Point): void {
    const [cx, cy] = centre ?? [this.view.x + this.view.w / 2, this.view.y + this.view.h / 2];
    // never further out than the whole venue, never closer than a few seats
    const w = Math.min(this.full.w * 1.5, Math.max(6, this.view.w / factor));
    const scale = w / this.view.w;
    this.view = {
      x: cx - (cx - this.view.x) * scale,
      y: cy - (cy - this.view.y) * scale,
      w,
      h: this.view.h * scale,
    };
    this.applyViewBox();
  }

  fit(): void {
    this.view = { ...this.full };
    this.applyViewBox();
  }

  // ---- drawing ----

  private bounds(model: SeatMapModel): ViewBox {
    const xs: number[] = [];
    const ys: number[] = [];
    const add = ([x, y]: Point): void => {
      xs.push(x);
      ys.push(y);
    };
    if (model.focalPoint !== null) {
      add(model.focalPoint);
    }
    for (const section of model.sections) {
      section.outline.forEach(add);
      add(section.label);
    }
    if (xs.length === 0) {
      return { x: 0, y: 0, w: 100, h: 100 };
    }
    const margin = 3;
    const x = Math.min(...xs) - margin;
    const y = Math.min(...ys) - margin;
    return { x, y, w: Math.max(...xs) + margin - x, h: Math.max(...ys) + margin - y };
  }

  private stage([x, y]: Point): SVGGElement {
    const size = Math.max(2, Math.min(this.full.w, this.full.h) * 0.06);
    const group = element("g", { class: "stage", "aria-label": "Stage" });
    group.append(
      element("rect", {
        x: x - size * 1.6,
        y: y - size * 0.6,
        width: size * 3.2,
        height: size * 1.2,
        rx: size * 0.3,
      }),
    );
    const label = element("text", { x, y, "font-size": size * 0.55 });
    label.textContent = "STAGE";
    group.append(label);
    return group;
  }

  private sectionLabel(section: Section, text: string): SVGTextElement {
    const [x, y] = section.label;
    const label = element("text", { class: "section-label", x, y });
    label.textContent = text;
    return label;
  }

  private seatedSection(section: Section): SVGGElement {
    const group = element("g", { class: "section", "data-section-id": section.id });
    group.append(element("polygon", { class: "outline", points: points(section.outline) }));
    group.append(this.sectionLabel(section, section.name));
    for (const seat of section.seats) {
      if (seat.position === null) {
        continue;
      }
      const [cx, cy] = seat.position;
      const node = element("circle", {
        class: "seat",
        cx,
        cy,
        r: SEAT_RADIUS,
        role: "button",
        "data-seat-id": seat.id,
      });
      this.seatNodes.set(seat.id, node);
      group.append(node);
    }
    return group;
  }

  private area(section: Section): SVGGElement {
    const group = element("g", {
      class: "area",
      role: "button",
      tabindex: 0,
      "data-section-id": section.id,
    });
    group.append(element("polygon", { class: "outline", points: points(section.outline) }));
    group.append(this.sectionLabel(section, section.name));
    const [x, y] = section.label;
    group.append(element("text", { class: "area-count", x, y: y + 1.6 }));
    this.areaNodes.set(section.id, group);
    return group;
  }

  private recolour(): void {
    const model = this.model;
    if (model === null) {
      return;
    }
    // one colour per distinct price at the chosen level, cheapest first
    const amounts = new Set<string>();
    for (const section of model.sections) {
      for (const seat of section.seats) {
        const offer = offerAt(seat, this.priceId);
        if (offer !== null) {
          amounts.add(offer.amount);
        }
      }
    }
    const sorted = [...amounts].sort((a, b) => Number(a) - Number(b));
    this.colourByAmount = new Map(
      sorted.map((amount, i) => [amount, PRICE_COLOURS[i % PRICE_COLOURS.length] ?? "#2a9d8f"]),
    );
    for (const section of model.sections) {
      if (section.kind === "GENERAL_ADMISSION") {
        this.drawArea(section);
      } else {
        section.seats.forEach((seat) => this.drawSeat(seat));
      }
    }
    this.drawLegend(sorted);
  }

  private drawSeat(seat: Seat): void {
    const node = this.seatNodes.get(seat.id);
    const model = this.model;
    if (node === undefined || model === null) {
      return;
    }
    const status = model.status(seat);
    const mine = this.mine.has(seat.id);
    const offer = offerAt(seat, this.priceId);
    node.dataset.status = status;
    node.classList.toggle("mine", mine);
    node.classList.toggle("not-offered", status === "available" && offer === null);
    const colour =
      status === "available" && offer !== null && this.colourByAmount.get(offer.amount);
    if (colour) {
      node.style.fill = colour;
    } else {
      node.style.removeProperty("fill");
    }
    // only seats one can act on are in the keyboard's tab order
    const actionable = (status === "available" && offer !== null) || (mine && status === "held");
    node.setAttribute("tabindex", actionable ? "0" : "-1");
    node.setAttribute("aria-disabled", actionable ? "false" : "true");
    const price = offer === null ? "not offered at this price level" : this.money(offer.amount);
    const state = mine ? `${status}, in your cart` : status;
    node.setAttribute("aria-label", `${seatName(seat)}: ${state}, ${price}`);
  }

  private drawArea(section: Section): void {
    const group = this.areaNodes.get(section.id);
    const outline = group?.querySelector("polygon");
    const count = group?.querySelector(".area-count");
    if (group === undefined || !outline || !count) {
      return;
    }
    const first = section.seats[0];
    const offer = first === undefined ? null : offerAt(first, this.priceId);
    const colour = offer === null ? undefined : this.colourByAmount.get(offer.amount);
    outline.style.fill = colour ?? "";
    group.dataset.available = String(section.availableCount);
    group.classList.toggle("sold-out", section.availableCount === 0);
    count.textContent =
      section.availableCount === 0 ? "sold out" : `${section.availableCount} places left`;
    const price = offer === null ? "" : `, ${this.money(offer.amount)}`;
    const left = `${section.availableCount} of ${section.capacity} places left`;
    group.setAttribute("aria-label", `${section.name}: standing, ${left}${price}`);
  }

  private drawLegend(amounts: string[]): void {
    const swatch = (className: string, text: string, colour?: string): HTMLElement => {
      const item = document.createElement("li");
      const dot = document.createElement("span");
      dot.className = `swatch ${className}`;
      if (colour !== undefined) {
        dot.style.background = colour;
      }
      item.append(dot, text);
      return item;
    };
    this.legend.replaceChildren(
      ...amounts.map((amount) =>
        swatch("price", this.money(amount), this.colourByAmount.get(amount)),
      ),
      swatch("mine", "your cart"),
      swatch("taken", "taken"),
      swatch("not-offered", "not at this price level"),
    );
  }

  private money(amount: string): string {
    return `${amount} ${this.currency}`;
  }

  // ---- zoom and pan ----

  private applyViewBox(): void {
    const { x, y, w, h } = this.view;
    this.svg.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
  }

  /** A point on screen, in venue units. */
  private toVenue(clientX: number, clientY: number): Point {
    const matrix = this.svg.getScreenCTM();
    if (matrix === null) {
      return [this.view.x + this.view.w / 2, this.view.y + this.view.h / 2];
    }
    const point = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return [point.x, point.y];
  }

  private listen(): void {
    const svg = this.svg;
    svg.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault(); // zoom the map, not scroll the page
        this.zoomBy(Math.exp(-event.deltaY * 0.0015), this.toVenue(event.clientX, event.clientY));
      },
      { passive: false },
    );

    // Pointers down now: one drags the map, two pinch it. A press that moved is a pan, not a
    // click on the seat under it.
    const pointers = new Map<number, { x: number; y: number }>();
    let moved = 0;
    svg.addEventListener("pointerdown", (event) => {
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pointers.size === 1) {
        moved = 0;
      }
    });
    svg.addEventListener("pointermove", (event) => {
      const last = pointers.get(event.pointerId);
      if (last === undefined) {
        return;
      }
      const matrix = svg.getScreenCTM();
      const scale = matrix === null ? 1 : matrix.a; // screen pixels per venue unit
      if (pointers.size === 1) {
        const dx = event.clientX - last.x;
        const dy = event.clientY - last.y;
        moved += Math.abs(dx) + Math.abs(dy);
        if (moved > 6) {
          svg.setPointerCapture(event.pointerId);
          this.view = { ...this.view, x: this.view.x - dx / scale, y: this.view.y - dy / scale };
          this.applyViewBox();
        }
      } else if (pointers.size === 2) {
        const other = [...pointers.entries()].find(([id]) => id !== event.pointerId)?.[1];
        if (other !== undefined) {
          const before = Math.hypot(last.x - other.x, last.y - other.y);
          const after = Math.hypot(event.clientX - other.x, event.clientY - other.y);
          const mid = this.toVenue((event.clientX + other.x) / 2, (event.clientY + other.y) / 2);
          if (before > 0) {
            this.zoomBy(after / before, mid);
          }
          moved += 100;
        }
      }
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    });
    const release = (event: PointerEvent): void => {
      pointers.delete(event.pointerId);
    };
    svg.addEventListener("pointerup", release);
    svg.addEventListener("pointercancel", release);

    svg.addEventListener("click", (event) => {
      if (moved > 6) {
        return;
      }
      this.choose(event.target, this.toVenue(event.clientX, event.clientY));
    });
    svg.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.choose(event.target);
      }
    });
  }

  /** What a click (at `point`, in venue units) or a key press on `target` chose. */
  private choose(target: EventTarget | null, point?: Point): void {
    if (!(target instanceof Element) || this.model === null) {
      return;
    }
    const seatId = target.closest("[data-seat-id]")?.getAttribute("data-seat-id");
    const onArea = target.closest(".area") !== null;
    const seat =
      seatId != null
        ? this.model.seat(seatId)
        : point !== undefined && !onArea
          ? this.nearestSeat(point)
          : undefined;
    if (seat !== undefined) {
      this.handlers.onSeat(seat);
      return;
    }
    const sectionId = target.closest(".area")?.getAttribute("data-section-id");
    const section = sectionId == null ? undefined : this.model.section(sectionId);
    if (section !== undefined) {
      this.handlers.onArea(section);
    }
  }

  /** A finger is wider than a seat on a phone: a tap beside seats takes the nearest one, if it
   * is closer than a seat's spacing. */
  private nearestSeat([x, y]: Point): Seat | undefined {
    let nearest: Seat | undefined;
    let best = 0.75; // venue units: seats are about one apart
    for (const section of this.model?.sections ?? []) {
      for (const seat of section.seats) {
        if (seat.position !== null) {
          const distance = Math.hypot(seat.position[0] - x, seat.position[1] - y);
          if (distance < best) {
            best = distance;
            nearest = seat;
          }
        }
      }
    }
    return nearest;
  }
}

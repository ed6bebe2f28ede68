/**
 * The seat map as the page knows it: the static layout (sections, seats, positions, prices) and
 * the live status of every seat, kept up to date by applying the subscription's changes.
 */
import type { LayoutJSON, SeatMapAnswer, SectionChange } from "./api";

/** The statuses, by the digit the API sends for each seat (one character per seat). */
export type SeatStatus = "available" | "held" | "booked" | "sold" | "blocked" | "unknown";

const STATUS_BY_DIGIT: Readonly<Record<string, SeatStatus>> = {
  "1": "available",
  "2": "held",
  "3": "booked",
  "4": "sold",
  "5": "blocked",
};

export function statusOfDigit(digit: string | undefined): SeatStatus {
  // a digit this page does not know yet is drawn as not for sale rather than breaking the map
  return (digit !== undefined && STATUS_BY_DIGIT[digit]) || "unknown";
}

export type Point = readonly [number, number];

export interface PriceOffer {
  priceId: string;
  amount: string;
}

export interface Seat {
  id: string;
  /** Its place in the section's layout order: the index of its digit in `statuses`. */
  index: number;
  section: Section;
  row: string | null;
  number: string | null;
  offers: PriceOffer[];
  /** Null for general-admission places, which are drawn as their section's area. */
  position: Point | null;
}

export interface Section {
  id: string;
  name: string;
  kind: "SEATED" | "GENERAL_ADMISSION";
  capacity: number;
  outline: Point[];
  label: Point;
  seats: Seat[];
  statuses: string;
  availableCount: number;
}

/** What one message changed in a section: every seat, or the seats at these indexes. */
export interface SectionUpdate {
  section: Section;
  indexes: number[] | "all";
}

export class SeatMapModel {
  readonly sections: Section[];
  readonly focalPoint: Point | null;
  private readonly sectionsById = new Map<string, Section>();
  private readonly seatsById = new Map<string, Seat>();

  constructor(
    readonly eventId: string,
    answer: SeatMapAnswer,
    /** Where the next subscription starts: the version of the last state applied. */
    public version: string = answer.version,
  ) {
    this.focalPoint = answer.layout.focal_point;
    this.sections = readLayout(answer.layout);
    for (const section of this.sections) {
      this.sectionsById.set(section.id, section);
      for (const seat of section.seats) {
        this.seatsById.set(seat.id, seat);
      }
    }
    for (const state of answer.sections) {
      const section = this.sectionsById.get(state.id);
      if (section !== undefined) {
        section.statuses = state.statuses;
        section.availableCount = state.availableCount;
      }
    }
  }

  seat(id: string): Seat | undefined {
    return this.seatsById.get(id);
  }

  section(id: string): Section | undefined {
    return this.sectionsById.get(id);
  }

  status(seat: Seat): SeatStatus {
    return statusOfDigit(seat.section.statuses[seat.index]);
  }

  /** Applies one message of `seatMapChanges`; says which seats to redraw. */
  apply(version: string, changes: SectionChange[]): SectionUpdate[] {
    const updates: SectionUpdate[] = [];
    for (const change of changes) {
      const section = this.sectionsById.get(change.id);
      if (section === undefined) {
        continue; // a section this layout does not have: the server asks for a reload then
      }
      section.availableCount = change.availableCount;
      if (change.statuses !== null) {
        section.statuses = change.statuses;
        updates.push({ section, indexes: "all" });
      } else if (change.seats !== null && change.seatStatuses !== null) {
        section.statuses = withDigits(section.statuses, change.seats, change.seatStatuses);
        updates.push({ section, indexes: change.seats });
      } else {
        updates.push({ section, indexes: [] }); // only the count changed
      }
    }
    this.version = version;
    return updates;
  }
}

/** `statuses` with the digit at each of `indexes` replaced by the matching one of `digits`. */
function withDigits(statuses: string, indexes: number[], digits: string): string {
  const chars = statuses.split("");
  indexes.forEach((index, i) => {
    const digit = digits[i];
    if (digit !== undefined && index >= 0 && index < chars.length) {
      chars[index] = digit;
    }
  });
  return chars.join("");
}

/** The layout JSON into typed objects; seat columns are found by name (`seat_columns`). */
function readLayout(layout: LayoutJSON): Section[] {
  const column = (name: string): number => {
    const index = layout.seat_columns.indexOf(name);
    if (index < 0) {
      throw new Error(`the seat map layout has no "${name}" column`);
    }
    return index;
  };
  const [ID, ROW, NUMBER, PRICE_SET, X, Y] = [
    column("seat_id"),
    column("row"),
    column("number"),
    column("price_set"),
    column("x"),
    column("y"),
  ];
  const text = (value: string | number | null | undefined): string | null =>
    value === null || value === undefined ? null : String(value);

  return [...layout.sections]
    .sort((a, b) => a.position - b.position)
    .map((json) => {
      const section: Section = {
        id: String(json.id),
        name: json.name,
        kind: json.kind,
        capacity: json.capacity,
        outline: json.outline,
        label: json.label,
        seats: [],
        statuses: "",
        availableCount: 0,
      };
      // price set 0 is "not on sale": an empty list of offers
      const offerSets: PriceOffer[][] = json.price_sets.map((set) =>
        set.map((offer) => ({ priceId: String(offer.price_id), amount: offer.amount })),
      );
      section.seats = json.seats.map((row, index) => {
        const x = row[X];
        const y = row[Y];
        return {
          id: String(row[ID]),
          index,
          section,
          row: text(row[ROW]),
          number: text(row[NUMBER]),
          offers: offerSets[Number(row[PRICE_SET])] ?? [],
          position: typeof x === "number" && typeof y === "number" ? [x, y] : null,
        };
      });
      return section;
    });
}

/** "Stalls, row A, seat 5" or, for general admission, the section's name. */
export function seatName(seat: Seat): string {
  if (seat.row === null || seat.number === null) {
    return `${seat.section.name} (standing)`;
  }
  return `${seat.section.name}, row ${seat.row}, seat ${seat.number}`;
}

/** The price of a seat or place at a price level, or null when it is not offered at that level. */
export function offerAt(seat: Seat, priceId: string): PriceOffer | null {
  return seat.offers.find((offer) => offer.priceId === priceId) ?? null;
}

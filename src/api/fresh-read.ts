/**
 * Shares one expensive read (a full `/multipleusers` listing) among every caller that needs a
 * view at least as new as some event, e.g. "a toggle whose answer I lost at tick 41".
 *
 * Events are numbered by a counter the owner keeps (`currentTicket`); a caller notes the number
 * when its event happens, then asks {@link FreshRead.read} for a value fetched after it. A fetch that began after the ticket serves
 * it; an older one in flight does not (it may have read the server before the event), so the
 * caller waits for the next fetch, which every late caller shares. With a hundred lost answers at
 * once this makes one or two listings instead of a hundred.
 */
export class FreshRead<T> {
  private inFlight: { covers: number; promise: Promise<T> } | undefined;
  private queued: Promise<T> | undefined;

  constructor(
    private readonly fetch: () => Promise<T>,
    private readonly currentTicket: () => number,
  ) {}

  /** A value whose fetch began after the event of `ticket`. */
  read(ticket: number): Promise<T> {
    const current = this.inFlight;
    if (current === undefined) return this.start();
    if (current.covers >= ticket) return current.promise;
    this.queued ??= current.promise
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<T> {
    const entry = { covers: this.currentTicket(), promise: this.fetch() };
    this.inFlight = entry;
    const clear = (): void => {
      if (this.inFlight === entry) this.inFlight = undefined;
    };
    entry.promise.then(clear, clear);
    return entry.promise;
  }
}

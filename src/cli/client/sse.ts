// Server-Sent Events for the CLI and tests: feed text chunks, get complete events. The parsing is
// eventsource-parser's (the WHATWG rules: CR/LF/CRLF, comments, field without a colon, BOM).
import { createParser } from 'eventsource-parser';

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export class SseParser {
  private completed: SseEvent[] = [];
  private readonly parser = createParser({
    // A browser's EventSource names an unnamed event "message"; so do we.
    onEvent: (e) => this.completed.push({ event: e.event ?? 'message', data: e.data, id: e.id }),
  });

  /** Returns the events completed by this chunk. Comments (": ...") are skipped. */
  push(chunk: string): SseEvent[] {
    this.parser.feed(chunk);
    const events = this.completed;
    this.completed = [];
    return events;
  }
}

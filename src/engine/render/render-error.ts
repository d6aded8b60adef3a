/** A template that cannot be rendered: unknown partial or layout, Liquid syntax or runtime error. The engine records it and halts the run. */
export class RenderError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RenderError';
  }
}

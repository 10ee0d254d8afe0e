// jsdom has no layout, so no ResizeObserver (Svelte's bind:clientHeight uses it): a stub that
// never fires is all a component test needs.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

/** This browser's own settings, kept in localStorage (small: the settings page loads it eagerly). */
export const preferences = {
  /** "Always relay my calls": the other side then never learns my IP address. */
  get alwaysRelay(): boolean {
    return localStorage.getItem('hearth.alwaysRelay') === '1';
  },
  set alwaysRelay(on: boolean) {
    localStorage.setItem('hearth.alwaysRelay', on ? '1' : '0');
  },
};

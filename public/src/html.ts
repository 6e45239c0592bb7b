import { h } from 'preact';
import htmImport from 'htm';

// htm's typings are CommonJS under NodeNext resolution while the bundle gets its ES module build:
// take the function from whichever shape arrives.
type Htm = typeof htmImport.default;
const htm: Htm = (htmImport as unknown as { default?: Htm }).default ?? (htmImport as unknown as Htm);

/** JSX-free templates: html`<div class=${x}>…</div>` builds Preact vnodes. */
export const html = htm.bind(h);

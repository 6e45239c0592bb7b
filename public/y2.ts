import { h, render } from 'preact'; import htm from 'htm'; import {useState} from 'preact/hooks';
const html = htm.bind(h); function A(){const [a]=useState(1);return html`<b>${a}</b>`}
render(html`<${A}/>`, document.body);

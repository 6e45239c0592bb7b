import { parse } from 'yaml';
console.error(parse('a: 1'));

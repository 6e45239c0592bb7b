import t from 'tap';
import { dependencyOrder } from '../../src/actors/order.js';
import { makeSpec } from '../helpers/specs.js';

const order = (specs: Array<{ id: string; depends_on?: string[] }>) => dependencyOrder(specs.map((s) => makeSpec(s)));

t.test('services in id order, each right after its dependencies', async (t) => {
  t.same(order([{ id: 'web', depends_on: ['api'] }, { id: 'api', depends_on: ['db'] }, { id: 'db' }, { id: 'cache' }]), ['db', 'api', 'cache', 'web']);
});

t.test('unknown dependencies are ignored, a cycle does not loop', async (t) => {
  t.same(order([{ id: 'a', depends_on: ['ghost'] }]), ['a']);
  t.same(order([{ id: 'a', depends_on: ['b'] }, { id: 'b', depends_on: ['a'] }]).sort(), ['a', 'b']);
});

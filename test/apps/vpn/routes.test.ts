// Turning `ip -j route show exact` output (captured from iproute2 6.x on this kernel) back into the
// arguments that recreate each route, so a replaced route is restored with everything it had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replacedRoute } from '../../../src/apps/vpn/routes.js';

test('a replaced route is recreated with its gateway, device, protocol, scope, source and flags', () => {
  assert.deepEqual(replacedRoute('[]'), undefined);
  assert.deepEqual(replacedRoute('[{"dst":"10.72.0.1","gateway":"10.1.0.1","dev":"d0","flags":["onlink","linkdown"]}]'), [
    '10.72.0.1', 'via', '10.1.0.1', 'dev', 'd0', 'onlink',
  ]);
  assert.deepEqual(
    replacedRoute('[{"dst":"10.1.0.0/24","dev":"d0","protocol":"kernel","scope":"link","prefsrc":"10.1.0.2","flags":["linkdown"]}]'),
    ['10.1.0.0/24', 'dev', 'd0', 'proto', 'kernel', 'scope', 'link', 'src', '10.1.0.2'],
  );
  assert.deepEqual(replacedRoute('[{"type":"blackhole","dst":"10.82.0.0/16","flags":[]}]'), ['blackhole', '10.82.0.0/16']);
  assert.deepEqual(
    replacedRoute(
      '[{"dst":"10.80.0.0/16","flags":["linkdown"],"nexthops":[{"gateway":"10.1.0.1","dev":"d0","weight":1,"flags":["linkdown"]},{"gateway":"10.1.0.3","dev":"d0","weight":2,"flags":["linkdown"]}]}]',
    ),
    ['10.80.0.0/16', 'nexthop', 'via', '10.1.0.1', 'dev', 'd0', 'weight', '1', 'nexthop', 'via', '10.1.0.3', 'dev', 'd0', 'weight', '2'],
  );
});

test('only the metric-0 route is the one `ip route replace` overwrites; others stay untouched', () => {
  const both = '[{"dst":"10.71.3.0/24","gateway":"10.1.0.1","dev":"d0","protocol":"static","metric":5,"flags":[]}]';
  assert.equal(replacedRoute(both), undefined, 'a route with another metric is not replaced, so nothing to restore');
  assert.deepEqual(
    replacedRoute('[{"dst":"10.71.3.0/24","gateway":"10.1.0.1","dev":"d0","protocol":"static","metric":5,"flags":[]},{"dst":"10.71.3.0/24","dev":"d1","scope":"link","flags":[]}]'),
    ['10.71.3.0/24', 'dev', 'd1', 'scope', 'link'],
  );
});

test('output of an unexpected shape is refused, naming what was wrong', () => {
  assert.throws(() => replacedRoute('{"dst":"10.0.0.0/8"}'), /expected a JSON array/);
  assert.throws(() => replacedRoute('[null]'), /unexpected route null/);
  assert.throws(() => replacedRoute('[{"dst":"10.0.0.0/8","dev":"eth0 x"}]'), /unexpected route/);
  assert.throws(() => replacedRoute('[{"dst":"10.0.0.0/8","metric":"5"}]'), /unexpected route/);
});

import t from 'tap';
import { displayTimeZone, formatDateTime, useDisplayTimeZone } from '../src/i18n/index.js';

// formatDateTime works out the zone's offset once per quarter of an hour: it must say what Intl says, minute for
// minute, across offset changes (a 30-minute one included) and over the years.
t.test('dates read as Intl reads them in the display zone, across offset changes', async (t) => {
  const before = displayTimeZone();
  t.teardown(() => useDisplayTimeZone(before));
  const cases = [
    ['Europe/Paris', '2025-03-30T01:00:00Z'],
    ['Europe/Paris', '2025-10-26T01:00:00Z'],
    ['Australia/Lord_Howe', '2025-04-05T15:00:00Z'],
    ['America/St_Johns', '2025-11-02T04:30:00Z'],
    ['Asia/Kathmandu', '1986-01-01T00:00:00Z'],
  ] as const;
  for (const [zone, change] of cases) {
    useDisplayTimeZone(zone);
    const intl = new Intl.DateTimeFormat('fr-FR', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone });
    const around = Date.parse(change);
    const differing: string[] = [];
    const moments = [];
    for (let ms = around - 2 * 3600_000; ms < around + 2 * 3600_000; ms += 29_000) moments.push(ms);
    for (let ms = Date.UTC(2000, 0, 1); ms < Date.UTC(2040, 0, 1); ms += 97 * 3600_000 + 7 * 60_000 + 31_000) moments.push(ms);
    for (const ms of moments) {
      const part = Object.fromEntries(intl.formatToParts(ms).map((p) => [p.type, p.value]));
      const expected = `${part.day}/${part.month}/${part.year} ${part.hour}:${part.minute}`;
      if (formatDateTime('fr', new Date(ms)) !== expected || formatDateTime('en', new Date(ms)) !== expected) differing.push(new Date(ms).toISOString());
    }
    t.same(differing, [], `${zone}: ${moments.length} moments around ${change} and over forty years`);
  }
  useDisplayTimeZone('Europe/Paris');
  t.equal(formatDateTime('fr', new Date('2025-02-09T11:32:59Z')), '09/02/2025 12:32', 'the help page’s example, seconds left out');
  t.equal(formatDateTime('fr', new Date('2025-03-30T01:00:00Z')), '30/03/2025 03:00', 'the first minute of summer time');
  t.equal(formatDateTime('fr', new Date('2025-03-30T00:59:00Z')), '30/03/2025 01:59', 'the last minute of winter time');
  t.equal(formatDateTime('fr', null), '');
});

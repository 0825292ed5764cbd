import { describe, expect, it } from 'vitest';

import { formatDuration, parseDuration } from '../../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['10', 10_000],
    ['1.5', 1_500],
    ['0', 0],
    ['0ms', 0],
    ['.5s', 500],
    ['1.5s', 1_500],
    ['1.1s', 1_100],
    ['0.25h', 900_000],
    ['  30s  ', 30_000],
    ['\t5m\n', 300_000],
    ['15 m', 900_000],
    ['007s', 7_000],
  ])('%j → %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    [''],
    ['   '],
    ['-1'],
    ['-5s'],
    ['+5s'],
    ['5x'],
    ['5d'],
    ['5M'],
    ['5S'],
    ['5 min'],
    ['s'],
    ['ms'],
    ['NaN'],
    ['Infinity'],
    ['1e3'],
    ['0x10'],
    ['1.'],
    ['1..5s'],
    ['5s5'],
    ['5s 3m'],
    ['1.5ms'],
    ['0.0001s'],
    ['99999999999999999999h'],
  ])('%j is not a duration', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [1_234, '1.234s'],
    [30_000, '30s'],
    [61_000, '61s'],
    [90_000, '1.5m'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [5_400_000, '1.5h'],
    [3_660_000, '61m'],
    [2_147_483_647, '2147483.647s'],
  ])('%d ms → %j', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 999, 1_000, 1_001, 59_999, 60_000, 90_000, 3_599_999, 3_600_000, 5_400_000, 86_400_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkDigitFor,
  isValidNhsNumber,
  nhsNumberFromStem,
  randomSyntheticNhsNumber,
} from '../src/fhir/nhs-number.js';
import {
  jaroWinkler,
  nameSimilarity,
  normaliseName,
  normalisePostcode,
  outwardCode,
  soundex,
} from '../src/services/pds/name-matching.js';
import { transposedDate } from '../src/services/pds/match-score.js';
import { glob } from '../src/services/pds/trace.js';
import { indexPatient } from '../src/services/pds/patient-index.js';
import { parseIfMatch } from '../src/fhir/etag.js';

describe('NHS Number', () => {
  it('accepts numbers with a correct modulus-11 check digit and refuses others', () => {
    for (const good of [
      '9000000009',
      '9000000017',
      '9000000025',
      '9000000033',
      '9111231130',
      '4010232137',
    ])
      assert.equal(isValidNhsNumber(good), true, good);
    for (const bad of [
      '9000000000',
      '9000000001',
      '900000000',
      '90000000090',
      'abcdefghij',
      '',
      ' 9000000009',
      9000000009,
    ])
      assert.equal(isValidNhsNumber(bad), false, String(bad));
  });
  it('never issues a stem whose check digit would be 10', () => {
    assert.equal(checkDigitFor('900000000'), 9);
    assert.equal(checkDigitFor('401023213'), 7);
    assert.equal(checkDigitFor('999000000'), null); // 9*10+9*9+9*8 = 243, 11 - 243 % 11 = 10: never issued
    let nulls = 0;
    for (let i = 0; i < 2000; i++) {
      const stem = '999' + String(i).padStart(6, '0');
      const n = nhsNumberFromStem(stem);
      if (n === null) nulls++;
      else assert.equal(isValidNhsNumber(n), true, n);
    }
    assert.ok(nulls > 100 && nulls < 300, `about 1 in 11 stems has no check digit, saw ${nulls}`);
  });
  it('random synthetic numbers are valid and in the 999 range', () => {
    let seed = 1;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 500; i++) {
      const n = randomSyntheticNhsNumber(random);
      assert.match(n, /^999\d{7}$/);
      assert.equal(isValidNhsNumber(n), true);
    }
  });
});

describe('name matching', () => {
  it('Soundex groups homophones as PDS does', () => {
    assert.equal(soundex('Smith'), 'S530');
    assert.equal(soundex('Smyth'), 'S530');
    assert.equal(soundex('Smythe'), 'S530');
    assert.equal(soundex('Robert'), 'R163');
    assert.equal(soundex('Rupert'), 'R163');
    assert.equal(soundex('Ashcraft'), 'A261'); // h does not separate same-coded letters
    assert.equal(soundex('Tymczak'), 'T522');
    assert.equal(soundex("O'Brien"), 'O165');
    assert.notEqual(soundex('Smith'), soundex('Jones'));
  });
  it('normalises names and postcodes', () => {
    assert.equal(normaliseName("O'Brien"), 'obrien');
    assert.equal(normaliseName('Zoë'), 'zoe');
    assert.equal(normaliseName('Smith-Jones'), 'smithjones');
    assert.equal(normalisePostcode(' ls1 6ae '), 'LS16AE');
    assert.equal(outwardCode('LS16AE'), 'LS1');
    assert.equal(outwardCode('SW1A1AA'), 'SW1A');
  });
  it('Jaro-Winkler scores', () => {
    assert.equal(jaroWinkler('martha', 'martha'), 1);
    assert.ok(Math.abs(jaroWinkler('martha', 'marhta') - 0.961) < 0.001);
    assert.ok(Math.abs(jaroWinkler('dwayne', 'duane') - 0.84) < 0.001);
    assert.equal(jaroWinkler('abc', 'xyz'), 0);
    assert.ok(nameSimilarity('Smith', 'Smyth') >= 0.88);
    assert.ok(nameSimilarity('Smith', 'Jones') < 0.5);
  });
  it('transposes day and month only when the result is a different real date', () => {
    assert.equal(transposedDate('1980-03-07'), '1980-07-03');
    assert.equal(transposedDate('1980-03-13'), undefined);
    assert.equal(transposedDate('1980-05-05'), undefined);
  });
});

describe('patient index', () => {
  it('indexes current facts, previous facts separately, and the survivor link of a superseded record', () => {
    const rows = indexPatient({
      resourceType: 'Patient',
      id: '9000000009',
      gender: 'female',
      birthDate: '2010-10-22',
      name: [
        { use: 'usual', family: 'Smith', given: ['Jane', 'Anne'] },
        { use: 'old', family: 'Jones', period: { start: '2000-01-01', end: '2009-01-01' } },
      ],
      address: [
        { use: 'home', postalCode: 'LS1 6AE' },
        { use: 'home', postalCode: 'M1 1AA', period: { start: '2000-01-01', end: '2001-01-01' } },
      ],
      telecom: [
        { system: 'email', value: 'Jane@Example.com' },
        { system: 'phone', value: '01632 960587' },
      ],
      generalPractitioner: [{ identifier: { value: 'y12345' } }],
    });
    const has = (param: string, value: string) =>
      rows.some((r) => r.param === param && r.value === value);
    assert.ok(has('family', 'smith') && has('given', 'jane') && has('given', 'anne'));
    assert.ok(has('family-hist', 'jones') && !has('family', 'jones'));
    assert.ok(has('phonetic', 'S530') && has('phonetic', 'J520'));
    assert.ok(
      has('postcode', 'LS16AE') && has('postcode-hist', 'M11AA') && !has('postcode', 'M11AA'),
    );
    assert.ok(has('email', 'jane@example.com') && has('phone', '01632960587'));
    assert.ok(
      has('general-practitioner', 'Y12345') &&
        has('birthdate', '2010-10-22') &&
        has('gender', 'female'),
    );
    const superseded = indexPatient({
      resourceType: 'Patient',
      id: '9000000009',
      gender: 'female',
      name: [{ family: 'Smith' }],
      link: [{ type: 'replaced-by', other: { identifier: { value: '9000000017' } } }],
    });
    assert.ok(
      superseded.some((r) => r.param === 'replaced-by' && r.value === '9000000017'),
      'superseded record names its survivor',
    );
    assert.ok(
      superseded.some((r) => r.param === 'family' && r.value === 'smith'),
      'superseded record stays findable by its details',
    );
  });
});

describe('If-Match', () => {
  it('reads W/"n" and refuses everything else with 412', () => {
    assert.equal(parseIfMatch('W/"2"'), 2);
    for (const bad of [undefined, '2', '"2"', 'W/2', 'W/"x"', ['W/"1"', 'W/"2"']]) {
      assert.throws(
        () => parseIfMatch(bad as never),
        (e: Error & { status?: number; spineCode?: string }) =>
          e.status === 412 && e.spineCode === 'PRECONDITION_FAILED',
      );
    }
  });
});

describe('wildcard names and postcodes', () => {
  it("matches as a '.*' regular expression would, on seeded random patterns and values", () => {
    let state = 42;
    const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2147483648), state % n);
    const text = (len: number) => Array.from({ length: len }, () => 'ab'[random(2)]).join('');
    for (let i = 0; i < 5000; i++) {
      const parts = Array.from({ length: 2 + random(4) }, () => text(random(3)));
      const value = text(random(12));
      const re = new RegExp('^' + parts.join('.*') + '$');
      assert.equal(glob(parts)(value), re.test(value), `${parts.join('*')} against ${value}`);
    }
  });

  it('answers a many-starred pattern against a long repetitive name (a regular expression backtracks for minutes)', () => {
    const parts = ['aa', ...Array.from({ length: 15 }, () => 'a'), 'b'];
    assert.equal(glob(parts)('a'.repeat(40)), false);
    assert.equal(glob(parts)('a'.repeat(40) + 'b'), true);
  });
});

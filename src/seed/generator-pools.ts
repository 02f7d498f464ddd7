/**
 * The patient generator's reference pools: curated English given and family names, towns with
 * their postcode districts and drama-range phone prefixes, and the fixed pools of GP practice and
 * pharmacy ODS codes. Data only, apart from the record builder, so it can be read and tuned alone.
 * faker supplies only its en_GB street list: faker.seed() costs ~0.1 ms a call, too slow per patient.
 */
import { faker } from '@faker-js/faker/locale/en_GB';
import { digits, Rng } from './generator-random.js';

// ---- reference data (curated: faker's en name lists are largely American) ----
const words = (s: string): string[] => s.split(' ');
export const FEMALE = words(
  'Mary Margaret Patricia Susan Elizabeth Joan Dorothy Jean Barbara Sheila Christine Linda Janet Carol Pauline Karen Julie Sarah Helen Claire Emma Rachel Louise Nicola Michelle Rebecca Laura Gemma Hannah Charlotte Sophie Amy Lucy Jessica Emily Chloe Olivia Grace Amelia Isla Ava Mia Poppy Freya Evie Lily Ella Isabella Ruby Florence Alice Harriet Victoria Catherine Anne Jane Joanne Deborah Tracey Hayley Zoe Megan Jade Kirsty Abigail Eleanor Frances Rose Maisie Matilda Phoebe Niamh Siobhan Aisha Priya Fatima Bethany Jennifer Gillian Wendy Valerie Brenda Sandra',
);
export const MALE = words(
  'John David Michael Peter Robert Paul Richard James William Stephen Christopher Mark Andrew Anthony Ian Kevin Gary Simon Neil Darren Lee Craig Jason Matthew Daniel Thomas Adam Ryan Luke Jack Joshua Samuel Benjamin Oliver Harry George Charlie Alfie Noah Leo Oscar Arthur Freddie Archie Henry Edward Jacob Ethan Alexander Joseph Nathan Liam Callum Connor Dylan Owen Rhys Aaron Jamie Stuart Graham Keith Brian Derek Ronald Kenneth Alan Colin Trevor Roy Patrick Sean Mohammed Rajesh Imran Philip Martin Nigel Barry Terence Dennis Frederick',
);
export const FAMILY = words(
  "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien O'Neill O'Connor O'Sullivan Smythe Smyth Whitfield Ashworth Hargreaves Greenwood Sutcliffe Ramsbottom Pickering Thornton Barraclough",
);
export const LOCALITIES = (
  'Moorside|Westfield|Northfield|Hillside|Woodhouse|Ashfield|Oakwood|Parkside|Highfield|Newtown|Brookside|' +
  'Greenhill|Fairfield|Southgate|Eastfield|Meadowbank|Kingswood|Elmwood|Springfield|Beechwood|Castlefields|' +
  'Old Town|Church End|West End|Town Centre|City Centre|Hill Top|Priory Park|Mill Hill|Stonebridge'
).split('|');
export const STREETS = faker.definitions.location.street_name ?? ['High Street'];
export const STREET_SUFFIXES = faker.definitions.location.street_suffix ?? ['Road'];
export const EMAIL_DOMAINS = words('example.com example.co.uk example.org example.net');

export interface Area {
  code: string;
  town: string;
  county: string | null;
  districts: string[];
  /** An Ofcom drama-range prefix (8 digits; 3 more follow), so no real line is ever dialled. */
  phone: string;
}
// code|town|county|districts|phone prefix. London carries no county line, as in PAF.
export const AREAS: Area[] = `LS|Leeds|West Yorkshire|1-17|01134960;BD|Bradford|West Yorkshire|1-15|
M|Manchester|Greater Manchester|1-35|01614960;BL|Bolton|Greater Manchester|1-7|;B|Birmingham|West Midlands|1-38|01214960
CV|Coventry|West Midlands|1-8|;WV|Wolverhampton|West Midlands|1-14|;L|Liverpool|Merseyside|1-27|01514960
S|Sheffield|South Yorkshire|1-14|01144960;NE|Newcastle upon Tyne|Tyne and Wear|1-13|01914980;SR|Sunderland|Tyne and Wear|1-6|
NG|Nottingham|Nottinghamshire|1-16|01154960;LE|Leicester|Leicestershire|1-5|01164960;DE|Derby|Derbyshire|1-24|
BS|Bristol|Avon|1-16|01174960;RG|Reading|Berkshire|1-6|01184960;OX|Oxford|Oxfordshire|1-4|;CB|Cambridge|Cambridgeshire|1-5|
NR|Norwich|Norfolk|1-14|;IP|Ipswich|Suffolk|1-5|;YO|York|North Yorkshire|1,10,23,24,26,30,31,32|;HU|Hull|East Yorkshire|1-10|
EX|Exeter|Devon|1-6|;PL|Plymouth|Devon|1-9|;TR|Truro|Cornwall|1|;BA|Bath|Somerset|1-2|;GL|Gloucester|Gloucestershire|1-4|
WR|Worcester|Worcestershire|1-5|;PR|Preston|Lancashire|1-5|;CA|Carlisle|Cumbria|1-6|;DH|Durham|County Durham|1|
TS|Middlesbrough|North Yorkshire|1-8|;NN|Northampton|Northamptonshire|1-5|;MK|Milton Keynes|Buckinghamshire|1-15|
CT|Canterbury|Kent|1-2|;ME|Maidstone|Kent|14-17|;BN|Brighton|East Sussex|1-3|;PO|Portsmouth|Hampshire|1-6|
SO|Southampton|Hampshire|14-19|;GU|Guildford|Surrey|1-4|;SP|Salisbury|Wiltshire|1-2|;CH|Chester|Cheshire|1-4|
ST|Stoke-on-Trent|Staffordshire|1-6|;SY|Shrewsbury|Shropshire|1-3|;LN|Lincoln|Lincolnshire|1-6|;HR|Hereford|Herefordshire|1-4|
SW|London||1A,1P,1V,1W,2-20|02079460;E|London||1-18|02079460;N|London||1-22|02079460;SE|London||1-28|02079460
NW|London||1-11|02079460;W|London||1-14|02079460`
  .split(/[;\n]/)
  .map((row) => {
    const [code, town, county, spec, dial] = row.trim().split('|');
    const districts = spec.split(',').flatMap((part) => {
      const m = /^(\d+)-(\d+)$/.exec(part);
      if (!m) return [part];
      return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) =>
        String(Number(m[1]) + i),
      );
    });
    return { code, town, county: county || null, districts, phone: dial || '01632960' };
  });
/** Inward-code letters: Royal Mail never uses C, I, K, M, O or V there. */
export const INWARD_LETTERS = 'ABDEFGHJLNPQRSTUWXYZ';

export const RELATIONS = {
  MTH: 'mother',
  FTH: 'father',
  SPS: 'spouse',
  CHILD: 'child',
  SIB: 'sibling',
  FRND: 'unrelated friend',
} as const;
export type Relation = keyof typeof RELATIONS;

/** A fixed (seed-independent) pool of ODS codes, so every seed shares the same practices. */
function odsPool(size: number, salt: number, make: (r: Rng) => string): string[] {
  const r = new Rng(salt);
  const codes = new Set<string>();
  while (codes.size < size) codes.add(make(r));
  return [...codes];
}
export const GP_PRACTICE_CODES = odsPool(
  500,
  0x6b1d,
  (r) => r.pick(words('A B C D E F G H J K L M N P Y')) + digits(r, 5),
);
export const PHARMACY_CODES = odsPool(
  300,
  0x7fa3,
  (r) => 'F' + r.pick(INWARD_LETTERS) + digits(r, 3),
);

/** The code among `pool` for an area: each area owns every n-th entry, so practices stay local. */
export function localCode(pool: string[], area: number, r: Rng): string {
  const owned = Math.floor((pool.length - 1 - area) / AREAS.length) + 1;
  return pool[area + AREAS.length * r.int(owned)];
}

/** UK postcode helpers shared by PDS (index, trace, match score) and SUS (pseudonymisation). */

/** Upper case, whitespace removed: " ls1 6ae " -> "LS16AE". */
export function normalisePostcode(value: string): string {
  return value.toUpperCase().replace(/\s+/g, '');
}

/** The outward code (district) of a postcode: "LS16AE" -> "LS1". */
export function outwardCode(normalisedPostcode: string): string {
  return normalisedPostcode.length > 3 ? normalisedPostcode.slice(0, -3) : normalisedPostcode;
}

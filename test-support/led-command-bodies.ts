/**
 * Bodies that are no `led` command (`{"state":"on"|"off"|"toggle"}`): not an
 * object, a list, the field missing, misspelt or of the wrong type or case.
 * The LED demo and the fleet both answer each with 400 `invalid_payload`
 * before their handler runs (their test/malformed-input.test.ts).
 */
export const NOT_A_LED_COMMAND: readonly string[] = [
  'null',
  'true',
  '1',
  '"on"',
  '[]',
  '[{"state":"on"}]',
  '{}',
  '{"state":null}',
  '{"state":1}',
  '{"state":"ON"}',
  '{"state":["on"]}',
  '{"state":{"toString":"on"}}',
  '{"State":"on"}',
];

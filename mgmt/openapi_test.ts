import { assertEquals } from "@std/assert";
import { Validator } from "@seriousme/openapi-schema-validator";
import { apiFixture } from "../tests/_harness/api.ts";

Deno.test("openapi: /openapi.json is a valid OpenAPI 3 document (@seriousme/openapi-schema-validator)", async () => {
  const fx = await apiFixture();
  const doc = (await fx.call("GET", "/openapi.json")).body;
  await fx.node.close();
  const validator = new Validator();
  const result = await validator.validate(doc);
  assertEquals(result.errors, undefined, JSON.stringify(result.errors, null, 2));
  assertEquals(result.valid, true);
  assertEquals(validator.version, "3.0");
  // The validator does refuse a broken document (so the pass above means something).
  const broken = await new Validator().validate({ ...doc, info: { title: 1 } });
  assertEquals(broken.valid, false);
});

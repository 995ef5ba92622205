// check.mjs validates JSON objects against Pexip's published API definitions: the compiled
// validators of @pexip/infinity-api (dist/<area>/validation.js) and the JSON schemas they embed,
// plus the event payload types of @pexip/infinity (dist/types.d.ts) transcribed below.
//
// Usage: node check.mjs <node_modules dir> < checks.json > results.json
//
// checks.json is an array of {"id", "validator": "<area>/<validateName>" or "", "schema":
// "<op>/<code>" or "event/<name>", "data": <the object>}. For each, results.json holds {"id",
// "compiled": {"ran", "ok", "first", "removed"}, "diffs": [{"path", "kind", "detail"}]}:
//   - compiled: what the compiled validator says. It stops at the first error ("first") and,
//     when it coerces, deletes fields its schema does not know: "removed" lists those paths.
//   - diffs: every difference the embedded schema finds (type, enum, required, unknown field,
//     no alternative of a oneOf), found by walking the schema, so none hides behind another.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.argv[2];
const apiDist = path.join(modules, '@pexip', 'infinity-api', 'dist');
const infinityTypes = path.join(modules, '@pexip', 'infinity', 'dist', 'types.d.ts');
const areas = ['token', 'conference', 'participant', 'call'];

// Load each area twice: as published (the compiled validators) and with its schema constants
// exported (the embedded JSON schemas), from a copy in a temporary directory.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pexipcheck-'));
const validators = {};
const registry = {}; // "<op>/<code>" -> top-level schema
for (const area of areas) {
  const file = path.join(apiDist, area, 'validation.js');
  validators[area] = await import(pathToFileURL(file).href);
  let src = fs.readFileSync(file, 'utf8');
  const names = [...src.matchAll(/^const (schema\d+) = /gm)].map(m => m[1]);
  src += `\nexport const __schemas = [${names.join(',')}];\n`;
  const copy = path.join(tmp, `${area}.mjs`);
  fs.writeFileSync(copy, src);
  const mod = await import(pathToFileURL(copy).href);
  for (const s of mod.__schemas) {
    if (!s || !s.$schema || !Array.isArray(s.oneOf) || !s.oneOf[0].$ref) continue;
    const m = s.oneOf[0].$ref.match(/^#\/definitions\/([^/]+)\/properties\/([^/]+)\//);
    if (m && !registry[`${m[1]}/${m[2]}`]) registry[`${m[1]}/${m[2]}`] = s;
  }
}
fs.rmSync(tmp, { recursive: true, force: true });

function resolve(ref) {
  const m = ref.match(/^#\/definitions\/([^/]+)\/properties\/([^/]+)\/definitions\/(.+)$/);
  if (!m) throw new Error(`unresolvable $ref ${ref}`);
  const top = registry[`${m[1]}/${m[2]}`];
  if (!top) throw new Error(`no schema ${m[1]}/${m[2]} for $ref ${ref}`);
  let node = top.definitions;
  for (const seg of m[3].split('/')) {
    node = node?.[seg];
  }
  if (!node) throw new Error(`$ref ${ref} points nowhere`);
  return node;
}

// The event payload types of @pexip/infinity 20.0.0 (dist/types.d.ts), as JSON schemas. Each
// names the interface it transcribes; the names are checked against the installed file below, so
// a different package version fails loudly rather than checking against stale types.
const participantDef = resolve('#/definitions/participants/properties/200/definitions/Participant');
const rtcParticipantEvent = { // RTCParticipantEvent = Omit<Participant, 'last_spoken_time'>
  ...participantDef,
  properties: Object.fromEntries(Object.entries(participantDef.properties).filter(([k]) => k !== 'last_spoken_time')),
};
const conferenceStateEvent = resolve('#/definitions/conference_status/properties/200/definitions/Result');
const str = { type: 'string' };
const num = { type: 'number' };
const obj = (properties, required) => ({ type: 'object', additionalProperties: false, properties, required });
const layoutName = { type: 'string' }; // Layout = Transforms['layout'], a string
const events = {
  participant_create: { iface: 'RTCParticipantEvent', schema: rtcParticipantEvent },
  participant_update: { iface: 'RTCParticipantEvent', schema: rtcParticipantEvent },
  participant_delete: { iface: 'participant_delete', schema: obj({ uuid: str }, ['uuid']) }, // eventSource.js: ({ uuid })
  conference_update: { iface: 'ConferenceStateEvent', schema: conferenceStateEvent },
  message_received: {
    iface: 'MessageEvent',
    schema: obj({ type: { type: 'string', enum: ['text/plain', 'application/json'] }, payload: str, origin: str, uuid: str, direct: { type: 'boolean' } },
      ['type', 'payload', 'origin', 'uuid', 'direct']),
  },
  stage: {
    iface: 'StageEvent',
    schema: { type: 'array', items: obj({ participant_uuid: str, stage_index: num, vad: num }, ['participant_uuid', 'stage_index', 'vad']) },
  },
  layout: {
    iface: 'LayoutEvent',
    schema: obj({
      requested_layout: obj({ primary_screen: obj({ chair_layout: layoutName, guest_layout: layoutName }, ['chair_layout', 'guest_layout']) }, ['primary_screen']),
      view: layoutName,
      participants: { type: 'array', items: str },
      overlay_text_enabled: { type: 'boolean' },
      pres_slot_coords: { type: 'array', items: { type: 'array', items: num } },
    }, ['requested_layout', 'view', 'participants']),
  },
  presentation_start: {
    iface: 'PresentationEvent',
    schema: obj({ status: { type: 'string', enum: ['start', 'stop', 'newframe'] }, presenter_name: str, presenter_uri: str, presenter_uuid: str }, []),
    clientOnly: ['lastEventId'], // the SSE id, which the client adds
  },
  disconnect: { iface: 'DisconnectEvent', schema: obj({ reason: str }, ['reason']) },
  call_disconnected: { iface: 'CallDisconnectedEvent', schema: obj({ call_uuid: str, reason: obj({ reason: str }, ['reason']) }, ['call_uuid']) },
  // Events Pexip sends without data ("Data: none").
  presentation_stop: { iface: 'presentation_stop', schema: { none: true } },
  presentation_frame: { iface: 'presentation_frame', schema: { none: true } },
  participant_sync_begin: { iface: 'participant_sync_begin', schema: { none: true } },
  participant_sync_end: { iface: 'participant_sync_end', schema: { none: true } },
  refresh_token: { iface: 'refresh_token', schema: { none: true } },
};
{
  const dts = fs.readFileSync(infinityTypes, 'utf8');
  const es = fs.readFileSync(path.join(modules, '@pexip', 'infinity', 'dist', 'eventSource.js'), 'utf8');
  for (const [name, e] of Object.entries(events)) {
    if (!es.includes(`type: '${name}'`)) throw new Error(`@pexip/infinity does not handle the event ${name}`);
    if (/^[A-Z]/.test(e.iface) && !new RegExp(`(interface|type) ${e.iface}\\b`).test(dts)) {
      throw new Error(`@pexip/infinity's types.d.ts has no ${e.iface}`);
    }
    const block = dts.match(new RegExp(`interface ${e.iface}\\b[^{]*\\{([\\s\\S]*?)\\n\\}`));
    if (block && e.schema.properties) {
      for (const field of [...block[1].matchAll(/^ {4}(\w+)\??:/gm)].map(m => m[1])) {
        if (!(field in e.schema.properties) && !(e.clientOnly || []).includes(field)) throw new Error(`${e.iface}.${field} is not transcribed`);
      }
    }
  }
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function typeMatches(want, v) {
  const t = typeOf(v);
  if (want === 'integer') return t === 'number' && Number.isInteger(v);
  return want === t;
}

// walk returns every difference between value and schema.
function walk(schema, value, p, out) {
  if (schema.$ref) return walk(resolve(schema.$ref), value, p, out);
  if (schema.oneOf || schema.anyOf) {
    const alts = schema.oneOf || schema.anyOf;
    let best = null;
    let passing = 0;
    for (const alt of alts) {
      const d = [];
      walk(alt, value, p, d);
      if (d.length === 0) passing++;
      if (best === null || d.length < best.length) best = d;
    }
    if (passing === 0) {
      if (alts.length === 1) out.push(...best);
      else out.push({ path: p, kind: 'oneOf', detail: `matches none of ${alts.length} alternatives; nearest: ${best.map(d => `${d.path} ${d.kind} ${d.detail}`).join('; ')}` });
    } else if (passing > 1 && schema.oneOf) {
      out.push({ path: p, kind: 'oneOf', detail: `matches ${passing} alternatives, not exactly one` });
    }
    return;
  }
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some(t => typeMatches(t, value))) {
      out.push({ path: p, kind: 'type', detail: `is ${typeOf(value)} ${JSON.stringify(value)?.slice(0, 60)}, must be ${types.join(' or ')}` });
      return;
    }
  }
  if (schema.enum && !schema.enum.some(e => e === value)) {
    out.push({ path: p, kind: 'enum', detail: `is ${JSON.stringify(value)}, must be one of ${JSON.stringify(schema.enum)}` });
  }
  if (typeOf(value) === 'object') {
    for (const r of schema.required || []) {
      if (!(r in value)) out.push({ path: p, kind: 'required', detail: `lacks ${r}` });
    }
    const props = schema.properties || {};
    for (const [k, v] of Object.entries(value)) {
      if (k in props) walk(props[k], v, `${p}/${k}`, out);
      else if (schema.additionalProperties === false) out.push({ path: `${p}/${k}`, kind: 'unknown', detail: `field ${k} is not in the schema` });
      else if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, v, `${p}/${k}`, out);
    }
  }
  if (typeOf(value) === 'array' && schema.items) {
    value.forEach((v, i) => walk(schema.items, v, `${p}/${i}`, out));
  }
}

// removedPaths lists the paths present in before and absent from after (what coercion deleted).
function removedPaths(before, after, p, out) {
  if (typeOf(before) === 'object' && typeOf(after) === 'object') {
    for (const k of Object.keys(before)) {
      if (!(k in after)) out.push(`${p}/${k}`);
      else removedPaths(before[k], after[k], `${p}/${k}`, out);
    }
  } else if (typeOf(before) === 'array' && typeOf(after) === 'array') {
    before.forEach((v, i) => removedPaths(v, after[i], `${p}/${i}`, out));
  }
  return out;
}

const checks = JSON.parse(fs.readFileSync(0, 'utf8'));
const results = [];
for (const c of checks) {
  const r = { id: c.id, compiled: { ran: false, ok: true, first: '', removed: [] }, diffs: [] };
  try {
    if (c.validator) {
      const [area, name] = c.validator.split('/');
      const fn = validators[area]?.[name];
      if (!fn) throw new Error(`no validator ${c.validator}`);
      const copy = structuredClone(c.data);
      r.compiled.ran = true;
      r.compiled.ok = fn(copy);
      if (!r.compiled.ok) {
        const e = fn.errors.find(e => e.keyword !== 'oneOf') || fn.errors[0];
        r.compiled.first = `${e.instancePath || '/'} ${e.keyword} ${e.message}`;
      }
      r.compiled.removed = removedPaths(c.data, copy, '', []);
    }
    if (c.schema.startsWith('event/')) {
      const e = events[c.schema.slice(6)];
      if (!e) throw new Error(`no event type ${c.schema}`);
      if (e.schema.none) {
        if (c.data !== undefined) r.diffs.push({ path: '', kind: 'data', detail: `carries ${JSON.stringify(c.data)}; Pexip's event has no data` });
      } else {
        walk(e.schema, c.data, '', r.diffs);
      }
    } else {
      const top = registry[c.schema];
      if (!top) throw new Error(`no schema ${c.schema}`);
      walk(top, c.data, '', r.diffs);
    }
  } catch (err) {
    r.error = String(err && err.message || err);
  }
  results.push(r);
}
process.stdout.write(JSON.stringify(results));

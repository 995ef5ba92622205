// client.mjs is a Matrix user on matrix-js-sdk with its Rust crypto (the stack Element Web runs),
// driven by a Go test through dendritetest.JSClient: a second, independent client stack for the
// user's side of the bot's encrypted conversations.
//
// Environment: MATRIX_URL, MATRIX_USER, MATRIX_PASSWORD, MATRIX_TOKEN, MATRIX_DEVICE.
// Standard input: one JSON command per line, {"id": n, "op": "...", ...}.
// Standard output: one JSON object per line: {"ready": true} once synced, {"id": n, "ok": true, ...}
// or {"id": n, "error": "..."} per command, and {"event": {...}} for every room message it sees
// (again after each decryption attempt), with its decryption failure and its shield.
import * as readline from "node:readline";
import * as sdk from "matrix-js-sdk";
import { OnlySignedDevicesIsolationMode, AllDevicesIsolationMode, EventShieldColour, EventShieldReason } from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

// Standard output is the protocol: the SDK's own logging goes to standard error.
for (const level of ["log", "info", "debug", "warn", "trace"]) console[level] = console.error;
logger.setLevel("warn");
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const client = sdk.createClient({
	baseUrl: process.env.MATRIX_URL,
	userId: process.env.MATRIX_USER,
	accessToken: process.env.MATRIX_TOKEN,
	deviceId: process.env.MATRIX_DEVICE,
});
await client.initRustCrypto({ useIndexedDB: false });
const crypto = client.getCrypto();
// Like an Element user, the user has a cross-signing identity of their own (needed for "exclude
// insecure devices"), set up with their password.
await crypto.bootstrapCrossSigning({
	authUploadDeviceSigningKeys: async (makeRequest) => {
		await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: process.env.MATRIX_USER }, password: process.env.MATRIX_PASSWORD });
	},
});

async function report(ev) {
	if (ev.getType() === "m.room.redaction") {
		out({ event: { event_id: ev.getId(), room_id: ev.getRoomId(), sender: ev.getSender(), type: ev.getType(), redacts: ev.event.redacts || ev.getContent().redacts } });
		return;
	}
	if (ev.getType() !== "m.room.message" && ev.getWireType() !== "m.room.encrypted") return;
	if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) return; // reported once decrypted
	const e = {
		event_id: ev.getId(),
		room_id: ev.getRoomId(),
		sender: ev.getSender(),
		type: ev.getType(),
		encrypted: ev.isEncrypted(),
		content: ev.getContent(),
		decryption_failure: ev.isDecryptionFailure() ? String(ev.decryptionFailureReason) : "",
	};
	if (ev.isEncrypted() && !ev.isDecryptionFailure()) {
		const info = await crypto.getEncryptionInfoForEvent(ev);
		if (info) {
			e.shield = EventShieldColour[info.shieldColour];
			e.shield_reason = info.shieldReason === null ? "" : EventShieldReason[info.shieldReason];
		}
	}
	out({ event: e });
}

client.on(sdk.RoomEvent.Timeline, (ev) => { report(ev).catch((err) => out({ log: String(err) })); });
client.on(sdk.RoomEvent.Redaction, (ev) => { report(ev).catch((err) => out({ log: String(err) })); });
client.on(sdk.MatrixEventEvent.Decrypted, (ev) => { report(ev).catch((err) => out({ log: String(err) })); });
// Join every room it is invited to, as a person accepting invites would.
client.on(sdk.RoomMemberEvent.Membership, (_ev, member) => {
	if (member.userId === client.getUserId() && member.membership === "invite") {
		client.joinRoom(member.roomId).catch((err) => out({ log: "join: " + String(err) }));
	}
});

const ops = {
	// isolation: "exclude" turns on Element's "exclude insecure devices" (MSC4153); "all" turns it off.
	async isolation(cmd) {
		crypto.setDeviceIsolationMode(cmd.mode === "exclude" ? new OnlySignedDevicesIsolationMode() : new AllDevicesIsolationMode(false));
		return {};
	},
	async createRoom(cmd) {
		const initial_state = cmd.encrypted ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] : [];
		const resp = await client.createRoom({ preset: "private_chat", invite: cmd.invite || [], initial_state, power_level_content_override: cmd.power_levels });
		return { room_id: resp.room_id };
	},
	async invite(cmd) {
		await client.invite(cmd.room, cmd.user);
		return {};
	},
	async send(cmd) {
		const resp = await client.sendMessage(cmd.room, { msgtype: "m.text", body: cmd.body });
		return { event_id: resp.event_id };
	},
	// members waits until the client knows user is joined to room (it then shares room keys with them).
	async members(cmd) {
		const room = client.getRoom(cmd.room);
		const m = room && room.getMember(cmd.user);
		return { membership: m ? m.membership : "" };
	},
	// trust reports how this client sees user's device: cross-signed by its owner, and the user verified.
	async trust(cmd) {
		await crypto.getUserDeviceInfo([cmd.user], true);
		const user = await crypto.getUserVerificationStatus(cmd.user);
		const dev = await crypto.getDeviceVerificationStatus(cmd.user, cmd.device);
		return {
			signed_by_owner: dev ? dev.signedByOwner : false,
			cross_signing_verified: dev ? dev.crossSigningVerified : false,
			user_verified: user.isVerified(),
			known_device: dev !== null,
		};
	},
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
	let cmd;
	try {
		cmd = JSON.parse(line);
		const op = ops[cmd.op];
		if (!op) throw new Error("unknown op " + cmd.op);
		out({ id: cmd.id, ok: true, ...(await op(cmd)) });
	} catch (err) {
		out({ id: cmd ? cmd.id : 0, error: String(err && err.stack || err) });
	}
});
rl.on("close", () => { client.stopClient(); process.exit(0); });

client.once(sdk.ClientEvent.Sync, (state) => { if (state === "PREPARED") out({ ready: true }); });
await client.startClient({ initialSyncLimit: 20 });

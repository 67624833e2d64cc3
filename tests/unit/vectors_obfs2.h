/*
 * The obfuscated2 known answers of ../shared/vectors/obfs2.txt, for the
 * daemon's codec (test_obfs2) and the harness's reference (test_ref) alike.
 */
#ifndef MTPROXYD_VECTORS_OBFS2_H
#define MTPROXYD_VECTORS_OBFS2_H

#include <stdint.h>

struct obfs2_vector {
	const char *name;
	const char *secret;		/* NULL: no secret (proxy -> DC) */
	const char *header_plain;
	const char *header_wire;
	const char *c2s_key, *c2s_iv;	/* builder -> parser */
	const char *s2c_key, *s2c_iv;	/* parser -> builder */
	uint32_t tag;
	int dc;
	const char *payload, *payload_cipher, *s2c_payload_cipher;
};

static const struct obfs2_vector obfs2_vectors[] = {
	{
		"client-abridged-dc2",
		"4228380141720bc776d2a628a3c65f90",
		"428e405b134f3a43072d4ca246a5212cf0c37724a539a4a2d7df5d7b6165507c"
		"7ef244087eb30e3d061ec44b246c795a15b0d879b4330472efefefef020082e2",
		"428e405b134f3a43072d4ca246a5212cf0c37724a539a4a2d7df5d7b6165507c"
		"7ef244087eb30e3d061ec44b246c795a15b0d879b4330472022e63637c7d7bfe",
		"14c46f40792fdfd7ef78e4403388b817bc85a607d9cf0c0e4c80eb4444a86b3a",
		"061ec44b246c795a15b0d879b4330472",
		"da8aa662c5298b3855c62c3e4ea9deecd07a508b581ddb2089e5b7e290a6c2bc",
		"a2a439a52477c3f02c21a546a24c2d07",
		0xefefefefu, 2,
		"99cba362bded9a10422aa6ab0a11af0c2c134866e7bbbde17467992c7f7be67b"
		"a04e519cd599ec0e",
		"19ad08e26909b2111de1056e76426435c884280b52cc067a1ff28263956b3f4a"
		"efdab08255cef67d",
		"9fdd6cbe9d382349f86297ea12b3836c8f43e8852f964a4965ca99e61481dfd1"
		"59ae4dc4678ff17b",
	},
	{
		"client-intermediate-dc-4",
		"8c221b7d9efb200bab29d966e00f8371",
		"422c903eafb827dba3b48d84d51d62cd2ec67a7cb12a399c6df3f9f818c83cdd"
		"11bfbeaab23ca89590e46a4baa68b72ea0a876cf991240e1eeeeeeeefcff6e45",
		"422c903eafb827dba3b48d84d51d62cd2ec67a7cb12a399c6df3f9f818c83cdd"
		"11bfbeaab23ca89590e46a4baa68b72ea0a876cf991240e1a0cc929daa96a7be",
		"63fce1e986eaa544c683c4aa77cc77fbbe634223cec940913bc8077fa86c0c20",
		"90e46a4baa68b72ea0a876cf991240e1",
		"143f23e064ce3a7bb9f052917aee66d0d376a318141855db135d80a2e4afdcbd",
		"9c392ab17c7ac62ecd621dd5848db4a3",
		0xeeeeeeeeu, -4,
		"05aac5427a651f435dc5d311c90703d063bfde6e9799ad7e971161182be5a853"
		"08de1a461476e11e",
		"8253d2bdd02b4ecd1096fe6a3552950f32a56b629155ae7b16f009530f35f68d"
		"446d6809e91d66d1",
		"b9ab9bd256fac171032bafa394334d474d77e175f3a0001e58d5be27732bb7c4"
		"f44953430900946c",
	},
	{
		"client-padded-dc10003",
		"0881fc71ba46a836f65a5f520a41f997",
		"423ad5260f393014cb13a11c5aaac308809bc88ded168a27f096e5de8d6926b1"
		"68b7fbdbf940ac51a23e0b76746d3e9f201b1f446bb777c8dddddddd13276d1d",
		"423ad5260f393014cb13a11c5aaac308809bc88ded168a27f096e5de8d6926b1"
		"68b7fbdbf940ac51a23e0b76746d3e9f201b1f446bb777c83945e652f2c91d5a",
		"cb8bcdd1234138febf82cf7cb7ab818375e201bf59b07fa48a346c2d33bee74b",
		"a23e0b76746d3e9f201b1f446bb777c8",
		"bb0a2e9ef859c8ad10792a17df10a81427d5c10e92cc5955aea2e24609e44b57",
		"278a16ed8dc89b8008c3aa5a1ca113cb",
		0xddddddddu, 10003,
		"754f9223b4b5304a7b8bff488e05624740a03383c9eac35fcf00d22ec6d8a732"
		"d69a2ce2c2e998e4",
		"1e555648e4e3f0b94033d6f0b0729d0a228dcd07133f6608f3f3120ec74655db"
		"96aaa6f5fe9b6737",
		"f377e400c1a00afca5abb490c8c7be23ec1668ddfcb172690f593481163ca9f5"
		"31e0ff2d66c2b308",
	},
	{
		/* The DC id is the plain header's 19 4c: mtprotoproxy leaves it random. */
		"proxy-to-dc-no-secret",
		NULL,
		"4235a58408122ed9c3443857ca2fb77f0f77ec900079cf7ddb2c9ddf69663ce5"
		"dd0d5ae51e88aaa8b89e5799b0e57391fd130c534abb2ed6eeeeeeee194c7f6a",
		"4235a58408122ed9c3443857ca2fb77f0f77ec900079cf7ddb2c9ddf69663ce5"
		"dd0d5ae51e88aaa8b89e5799b0e57391fd130c534abb2ed67ea03d3f81b201f2",
		"c3443857ca2fb77f0f77ec900079cf7ddb2c9ddf69663ce5dd0d5ae51e88aaa8",
		"b89e5799b0e57391fd130c534abb2ed6",
		"d62ebb4a530c13fd9173e5b099579eb8a8aa881ee55a0ddde53c6669df9d2cdb",
		"7dcf790090ec770f7fb72fca573844c3",
		0xeeeeeeeeu, 0x4c19,
		NULL, NULL, NULL,
	},
};
#define NOBFS2_VECTORS	(sizeof(obfs2_vectors) / sizeof(obfs2_vectors[0]))

#endif

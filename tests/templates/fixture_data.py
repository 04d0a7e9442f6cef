"""Inputs of gen_fixtures.py: the conversation corpus, the model families and
their special tokens, the unit cases, the score pairs and the model folders."""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web for a query and return the top results.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "max_results": {"type": "integer", "description": "How many results", "default": 3},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["query"],
        },
    },
}
TOOL_CALL = {"id": "call12345", "type": "function",
             "function": {"name": "get_current_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}}}
TOOL_CALL_STR = {"id": "call67890", "type": "function",
                 "function": {"name": "search", "arguments": "{\"query\": \"weather Paris\", \"max_results\": 2}"}}
DOCUMENTS = [
    {"title": "Paris weather", "text": "Paris is sunny today, 24 degrees."},
    {"title": "Lyon weather", "text": "Lyon: light rain in the afternoon."},
]

CONVERSATIONS = {
    "system_user": {
        "messages": [{"role": "system", "content": "You are a helpful assistant."},
                     {"role": "user", "content": "Hello, how are you?"}],
        "add_generation_prompt": True,
    },
    "user_only_gen": {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "add_generation_prompt": True},
    "user_only_nogen": {"messages": [{"role": "user", "content": "What is 2 + 2?"}]},
    "multi_turn": {
        "messages": [{"role": "system", "content": "Answer briefly."},
                     {"role": "user", "content": "Hi there"},
                     {"role": "assistant", "content": "Hello! How can I help?"},
                     {"role": "user", "content": "Who are you?"},
                     {"role": "assistant", "content": "   I am an assistant   "},
                     {"role": "user", "content": "Another question"}],
        "add_generation_prompt": True,
    },
    "multi_turn_no_system": {
        "messages": [{"role": "user", "content": "Tell me a joke."},
                     {"role": "assistant", "content": "Why did the chicken cross the road?"},
                     {"role": "user", "content": "Why?"}],
        "add_generation_prompt": False,
    },
    "ends_with_assistant": {
        "messages": [{"role": "user", "content": "Is the sky blue?"},
                     {"role": "assistant", "content": "Yes, on a clear day."}],
    },
    "reward_pair": {  # how reward models (Skywork-Reward-V2) are scored: no generation prompt
        "messages": [{"role": "user", "content": "Jane has 12 apples. She gives 4 away. How many are left?"},
                     {"role": "assistant", "content": "12 - 4 = 8. Jane has 8 apples left."}],
    },
    "empty_content": {
        "messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""},
                     {"role": "assistant", "content": ""}, {"role": "user", "content": "?"}],
        "add_generation_prompt": True,
    },
    "unicode": {
        "messages": [{"role": "system", "content": "Réponds en français. Straße, ΣΊΣΥΦΟΣ, İstanbul."},
                     {"role": "user", "content": "日本語で答えて 🙂👍🏽 — «quotes» \"double\" 'single' \\backslash\\ tab\there\nnew line"},
                     {"role": "assistant", "content": "מה שלומך؟ مرحبا 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 e\u0301 \u200b zero-width"},
                     {"role": "user", "content": "{{ not a template }} {% raw %} <|im_end|>"}],
        "add_generation_prompt": True,
    },
    "whitespace": {
        "messages": [{"role": "system", "content": "\n\n  padded system  \n"},
                     {"role": "user", "content": "  leading and trailing spaces  "},
                     {"role": "assistant", "content": "\tTabbed answer\n\n"},
                     {"role": "user", "content": "line one\r\nline two\n"}],
        "add_generation_prompt": True,
    },
    "continue_final": {
        "messages": [{"role": "user", "content": "Write a haiku about the sea."},
                     {"role": "assistant", "content": "Waves fold into foam,"}],
        "continue_final_message": True,
    },
    "continue_final_trailing_space": {
        "messages": [{"role": "user", "content": "Count to three."},
                     {"role": "assistant", "content": "One, two, "}],
        "continue_final_message": True,
    },
    "continue_and_generation": {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}],
        "continue_final_message": True, "add_generation_prompt": True,
    },
    "tools_question": {
        "messages": [{"role": "system", "content": "You can call tools."},
                     {"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER_TOOL, SEARCH_TOOL],
        "add_generation_prompt": True,
    },
    "tool_call_round_trip": {
        "messages": [{"role": "user", "content": "What is the weather in Paris?"},
                     {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                     {"role": "tool", "tool_call_id": "call12345", "name": "get_current_weather",
                      "content": "{\"temperature\": 24, \"condition\": \"sunny\"}"},
                     {"role": "assistant", "content": "It is sunny and 24 degrees in Paris."},
                     {"role": "user", "content": "Thanks!"}],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    "tool_call_none_content": {  # OpenAI clients send content None with tool_calls: transformers drops it
        "messages": [{"role": "user", "content": "Search for weather in Paris"},
                     {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL_STR]},
                     {"role": "tool", "tool_call_id": "call67890", "content": "Sunny, 24C"}],
        "tools": [SEARCH_TOOL],
        "add_generation_prompt": True,
    },
    "documents": {
        "messages": [{"role": "user", "content": "What is the weather like in France?"}],
        "documents": DOCUMENTS,
        "add_generation_prompt": True,
    },
    "reasoning_content": {
        "messages": [{"role": "user", "content": "What is 17 * 3?"},
                     {"role": "assistant", "content": "51", "reasoning_content": "17 * 3 = 51."},
                     {"role": "user", "content": "And 17 * 4?"}],
        "add_generation_prompt": True,
    },
    "think_in_content": {
        "messages": [{"role": "user", "content": "Is 7 prime?"},
                     {"role": "assistant", "content": "<think>\nCheck divisors 2..sqrt(7).\n</think>\n\nYes, 7 is prime."}],
    },
    "content_parts": {  # OpenAI content parts, as multimodal templates accept them
        "messages": [{"role": "system", "content": [{"type": "text", "text": "Describe things."}]},
                     {"role": "user", "content": [{"type": "text", "text": "Look at this:"},
                                                  {"type": "image"},
                                                  {"type": "text", "text": "What is it?"}]}],
        "add_generation_prompt": True,
    },
    "not_alternating": {
        "messages": [{"role": "user", "content": "First"}, {"role": "user", "content": "Second"}],
        "add_generation_prompt": True,
    },
    "assistant_first": {
        "messages": [{"role": "assistant", "content": "I speak first."}, {"role": "user", "content": "OK"}],
        "add_generation_prompt": True,
    },
    "system_only": {"messages": [{"role": "system", "content": "Only a system prompt."}],
                    "add_generation_prompt": True},
    "long_history": {
        "messages": [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}: " + "word " * (i % 5)}
                     for i in range(21)],
        "add_generation_prompt": True,
    },
    "empty_conversation": {"messages": []},
}

# Special tokens as the families' tokenizer_config.json give them.
LLAMA2 = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
LLAMA3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
QWEN = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
GEMMA = {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"}
DEEPSEEK = {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}
PHI = {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>"}
COHERE = {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>", "pad_token": "<PAD>"}
GRANITE = {"bos_token": "<|end_of_text|>", "eos_token": "<|end_of_text|>", "pad_token": "<|end_of_text|>"}
CHATML = {"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>"}


def fam(template, family, tokens, **extra):
    d = {"template": template, "family": family, "tokens": tokens}
    d.update(extra)
    return d


FAMILIES = [
    fam("meta-llama-Llama-2-13b-chat-hf", "Llama 2", LLAMA2),
    fam("meta-llama-Meta-Llama-3-8B-Instruct", "Llama 3", LLAMA3),
    fam("meta-llama-Llama-3.1-8B-Instruct", "Llama 3.1 (tools); Skywork-Reward-V2-Llama", LLAMA3,
        extra=[{"conversation": "tools_question", "chat_template_kwargs": {"tools_in_user_message": False}},
               {"conversation": "system_user", "chat_template_kwargs": {"date_string": "01 Jan 2025"}}]),
    fam("meta-llama-Llama-3.2-3B-Instruct", "Llama 3.2", LLAMA3),
    fam("meta-llama-Llama-3.2-11B-Vision-Instruct", "Llama 3.2 Vision", LLAMA3),
    fam("meta-llama-Llama-3.3-70B-Instruct", "Llama 3.3", LLAMA3),
    fam("mistralai-Mistral-7B-Instruct-v0.1", "Mistral v0.1", LLAMA2),
    fam("mistralai-Mistral-7B-Instruct-v0.3", "Mistral v0.3 (tools)", LLAMA2),
    fam("mistralai-Mistral-7B-Instruct-v0.3-json-schema", "Mistral v0.3 (JSON schema tools)", LLAMA2),
    fam("mistralai-Mixtral-8x7B-Instruct-v0.1", "Mixtral", LLAMA2),
    fam("mistralai-Mistral-Nemo-Instruct-2407", "Mistral Nemo", LLAMA2),
    fam("mistralai-Mistral-Large-Instruct-2411", "Mistral Large 2411", LLAMA2),
    fam("Mistral-Small-3.2-24B-Instruct-2506", "Mistral Small 3.2", LLAMA2),
    fam("unsloth-mistral-Devstral-Small-2507", "Devstral", LLAMA2),
    fam("Qwen-Qwen1.5-72B-Chat", "Qwen1.5", QWEN),
    fam("Qwen-Qwen2.5-7B-Instruct", "Qwen2.5 (tools)", QWEN),
    fam("Qwen-Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL", QWEN),
    fam("Qwen-Qwen3-0.6B", "Qwen3 (thinking, tools); Skywork-Reward-V2-Qwen3", QWEN,
        extra=[{"conversation": "system_user", "chat_template_kwargs": {"enable_thinking": False}},
               {"conversation": "system_user", "chat_template_kwargs": {"enable_thinking": True}},
               {"conversation": "tools_question", "chat_template_kwargs": {"enable_thinking": False}},
               {"conversation": "reasoning_content", "chat_template_kwargs": {"enable_thinking": False}}]),
    fam("Qwen-QwQ-32B", "QwQ", QWEN),
    fam("google-gemma-7b-it", "Gemma", GEMMA),
    fam("google-gemma-2-2b-it", "Gemma 2", GEMMA),
    fam("google-gemma-3-it", "Gemma 3", GEMMA),
    fam("HuggingFaceH4-zephyr-7b-gemma-v0.1", "Zephyr Gemma", GEMMA),
    fam("microsoft-Phi-3-mini", "Phi-3 mini", PHI),
    fam("microsoft-Phi-3-small", "Phi-3 small", PHI),
    fam("microsoft-Phi-3.5-mini-instruct", "Phi-3.5", PHI),
    fam("microsoft-phi-4", "Phi-4", {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>"}),
    fam("microsoft-Phi-4-mini-instruct", "Phi-4-mini", PHI),
    fam("deepseek-ai-deepseek-llm-7b-chat", "DeepSeek LLM", DEEPSEEK),
    fam("deepseek-ai-DeepSeek-V2", "DeepSeek V2", DEEPSEEK),
    fam("deepseek-ai-DeepSeek-V3.1", "DeepSeek V3.1", DEEPSEEK,
        extra=[{"conversation": "system_user", "chat_template_kwargs": {"thinking": True}}]),
    fam("deepseek-ai-DeepSeek-R1", "DeepSeek R1", DEEPSEEK),
    fam("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "DeepSeek R1 Distill Qwen", DEEPSEEK),
    fam("deepseek-ai-DeepSeek-R1-Distill-Llama-8B", "DeepSeek R1 Distill Llama", DEEPSEEK),
    fam("CohereForAI-c4ai-command-r-plus-default", "Command R+ (default)", COHERE),
    fam("CohereForAI-c4ai-command-r-plus-tool_use", "Command R+ (tool_use)", COHERE),
    fam("CohereForAI-c4ai-command-r-v01-tool_use", "Command R v01 (tool_use)", COHERE),
    fam("CohereForAI-c4ai-command-r7b-12-2024-default", "Command R7B (default)", COHERE),
    fam("CohereForAI-c4ai-command-r7b-12-2024-rag", "Command R7B (rag)", COHERE),
    fam("CohereForAI-c4ai-command-r7b-12-2024-tool_use", "Command R7B (tool_use)", COHERE),
    fam("CohereLabs-c4ai-command-a-03-2025", "Command A", COHERE),
    fam("ibm-granite-granite-3.0-8b-instruct", "Granite 3.0", GRANITE),
    fam("ibm-granite-granite-3.3-2B-Instruct", "Granite 3.3", GRANITE,
        extra=[{"conversation": "system_user", "chat_template_kwargs": {"thinking": True}}]),
    fam("ibm-granite-granite-4.0", "Granite 4.0", GRANITE),
    fam("HuggingFaceTB-SmolLM2-1.7B-Instruct", "SmolLM2", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}),
    fam("HuggingFaceTB-SmolLM3-3B", "SmolLM3", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
        extra=[{"conversation": "system_user", "chat_template_kwargs": {"enable_thinking": False}}]),
    fam("allenai-tulu-olmo2", "OLMo 2 / Tulu", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}),
    fam("internlm-internlm2-chat-7b", "InternLM2", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    fam("HuggingFaceH4-zephyr-7b-beta", "Zephyr", LLAMA2),
    fam("teknium-OpenHermes-2.5-Mistral-7B", "ChatML (OpenHermes)", CHATML),
    fam("cognitivecomputations-dolphin-2.5-mixtral-8x7b", "ChatML (Dolphin)", CHATML),
    fam("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "Hermes 2 Pro (tool use)", {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"}),
    fam("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "Hermes 3 (tool use)", {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"}),
    fam("tiiuae-Falcon3-7B-Instruct", "Falcon3", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}),
    fam("openchat-openchat-3.5-0106", "OpenChat", LLAMA2),
    fam("upstage-SOLAR-10.7B-Instruct-v1.0", "SOLAR", LLAMA2),
    fam("codellama-CodeLlama-70b-Instruct-hf", "CodeLlama 70B", LLAMA2),
    fam("fireworks-ai-firefunction-v1", "FireFunction v1", LLAMA2),
    fam("fireworks-ai-llama-3-firefunction-v2", "FireFunction v2", LLAMA3),
    fam("meetkai-functionary-medium-v2.2", "Functionary v2.2", LLAMA2),
    fam("meetkai-functionary-medium-v3.1", "Functionary v3.1", LLAMA3),
    fam("meetkai-functionary-medium-v3.2", "Functionary v3.2", LLAMA3),
    fam("openbmb-MiniCPM3-4B", "MiniCPM3", CHATML),
    fam("THUDM-glm-4-9b-chat", "GLM-4", {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}),
    fam("ai21labs-AI21-Jamba-Large-1.6", "Jamba 1.6", {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}),
    fam("openai-gpt-oss-120b", "gpt-oss", {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"},
        extra=[{"conversation": "system_user", "chat_template_kwargs": {"reasoning_effort": "high"}}]),
    fam("moonshotai-Kimi-K2", "Kimi K2", {"bos_token": "[BOS]", "eos_token": "[EOS]", "unk_token": "[UNK]", "pad_token": "[PAD]"}),
    fam("moonshotai-Kimi-K2-Thinking", "Kimi K2 Thinking", {"bos_token": "[BOS]", "eos_token": "[EOS]", "unk_token": "[UNK]", "pad_token": "[PAD]"}),
    fam("ByteDance-Seed-OSS", "Seed-OSS", {"bos_token": "<seed:bos>", "eos_token": "<seed:eos>", "pad_token": "<seed:pad>"}),
    fam("NVIDIA-Nemotron-Nano-v2", "Nemotron Nano v2", {"bos_token": "<SPECIAL_10>", "eos_token": "<SPECIAL_11>"}),
    fam("yandex-YandexGPT-5-Lite-8B-instruct", "YandexGPT 5", LLAMA2),
    fam("inclusionAI-Ling-lite", "Ling", LLAMA2),
]

SCORE_TEMPLATES = ["qwen3_reranker.jinja", "mxbai_rerank_v2.jinja", "bge-reranker-v2-gemma.jinja",
                   "nemotron-rerank.jinja"]
SCORE_PAIRS = [
    ("What is the capital of China?", "The capital of China is Beijing.", {}),
    ("Explain gravity", "Gravity is a force that attracts two bodies towards each other.", {}),
    ("emoji 🙂 query", "Ünïcödé dokument — «quoted»\nsecond line", {}),
    ("", "", {}),
    ("find cats", "Cats are small carnivorous mammals.",
     {"instruction": "Given a pet question, retrieve passages about pets"}),
]


def model_dir_specs(templates_dir):
    def read(name):
        with open(f"{templates_dir}/{name}.jinja", encoding="utf-8") as f:
            return f.read()

    r7b = {n: read(f"CohereForAI-c4ai-command-r7b-12-2024-{n}") for n in ("default", "rag", "tool_use")}
    basic = [{"messages": CONVERSATIONS["system_user"]["messages"], "add_generation_prompt": True},
             {"messages": CONVERSATIONS["continue_final"]["messages"], "continue_final_message": True}]
    probe = ("{{ bos_token }}|{{ eos_token }}|{{ unk_token }}|{{ pad_token }}|{{ boi_token }}|"
             "{% for m in messages %}{{ m.role }}={{ m.content }};{% endfor %}")
    return [
        {"name": "jinja_file", "files": {"chat_template.jinja": read("Qwen-Qwen2.5-7B-Instruct")},
         "config": {"eos_token": {"__type": "AddedToken", "content": "<|im_end|>", "lstrip": False,
                                  "normalized": False, "rstrip": False, "single_word": False},
                    "pad_token": "<|endoftext|>", "chat_template": "ignored: the .jinja file wins"},
         "requests": basic + [{"messages": CONVERSATIONS["tools_question"]["messages"],
                               "tools": CONVERSATIONS["tools_question"]["tools"], "add_generation_prompt": True}]},
        {"name": "config_string",
         "config": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                    "chat_template": read("meta-llama-Meta-Llama-3-8B-Instruct")},
         "requests": basic},
        {"name": "config_named_list",
         "config": {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>", "pad_token": "<PAD>",
                    "chat_template": [{"name": n, "template": t} for n, t in r7b.items()]},
         "requests": [
             {"messages": CONVERSATIONS["system_user"]["messages"], "add_generation_prompt": True},
             {"messages": CONVERSATIONS["tools_question"]["messages"],
              "tools": CONVERSATIONS["tools_question"]["tools"], "add_generation_prompt": True},
             {"messages": CONVERSATIONS["documents"]["messages"], "documents": DOCUMENTS,
              "chat_template": "rag", "add_generation_prompt": True},
             {"messages": CONVERSATIONS["system_user"]["messages"], "chat_template": "tool_use"},
             {"messages": CONVERSATIONS["system_user"]["messages"],
              "chat_template": "{% for m in messages %}[{{ m.role }}]{% endfor %}"},
         ]},
        {"name": "named_list_no_default",
         "config": {"eos_token": "</s>",
                    "chat_template": [{"name": "rag", "template": r7b["rag"]},
                                      {"name": "tool_use", "template": r7b["tool_use"]}]},
         "requests": [{"messages": CONVERSATIONS["system_user"]["messages"]},
                      {"messages": CONVERSATIONS["system_user"]["messages"], "tools": [WEATHER_TOOL]}]},
        {"name": "additional_templates",
         "files": {"chat_template.jinja": "DEFAULT {{ messages[0].content }}",
                   "additional_chat_templates/tool_use.jinja": "TOOLS {{ tools | length }} {{ messages[0].content }}"},
         "config": {"eos_token": "</s>"},
         "requests": [{"messages": [{"role": "user", "content": "x"}]},
                      {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL]},
                      {"messages": [{"role": "user", "content": "x"}], "chat_template": "tool_use"}]},
        {"name": "special_tokens_forms",
         "files": {"chat_template.jinja": probe},
         "config": {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False,
                                  "rstrip": False, "single_word": False},
                    "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None, "boi_token": "<start_of_image>",
                    "add_bos_token": True},
         "requests": [{"messages": [{"role": "user", "content": "probe"}]}]},
        {"name": "special_tokens_map_legacy",
         "files": {"chat_template.jinja": probe},
         "config": {"eos_token": "</s>", "unk_token": "<unk>"},
         "special_tokens_map": {"bos_token": {"content": "<legacy_bos>", "lstrip": False, "normalized": False,
                                              "rstrip": False, "single_word": False},
                                "pad_token": "<legacy_pad>"},
         "requests": [{"messages": [{"role": "user", "content": "probe"}]}]},
        {"name": "no_template", "config": {"eos_token": "</s>", "unk_token": "<unk>"},
         "requests": [{"messages": [{"role": "user", "content": "x"}]},
                      {"messages": [{"role": "user", "content": "x"}],
                       "chat_template": "{{ messages | length }} message(s)"}]},
    ]


# ---- unit cases: (name, template, context) ---------------------------------------------------
from unit_cases import UNIT_CASES  # noqa: E402,F401

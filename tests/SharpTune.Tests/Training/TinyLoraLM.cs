using SharpTune.Lora;
using SharpTune.Quantization;
using SharpTune.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

/// <summary>
/// A small residual MLP language model for trainer tests: frozen embeddings and LM head, two blocks of NF4 (or plain)
/// projections with LoRA, checkpointed like decoder layers. Deterministic for a seed. <see cref="PoisonFromCall"/>
/// makes the hidden states NaN from that forward call on (to test divergence handling). With <c>trainableHead</c> the LM
/// head's weight is trained too (named <c>lm_head.weight</c>).
/// </summary>
internal sealed class TinyLoraLM : ITrainableCausalLM, IDisposable
{
    private readonly Embedding _embed;
    private readonly Linear _head;
    private readonly List<(LoraLinear Up, LoraLinear Down)> _blocks = [];
    private int _calls;

    public TinyLoraLM(int seed = 1, int vocab = 24, int hidden = 32, bool nf4 = true, double dropout = 0, bool trainableHead = false)
    {
        var generator = new Generator((ulong)seed);
        _embed = nn.Embedding(vocab, hidden);
        _head = nn.Linear(hidden, vocab, hasBias: false);
        using (no_grad())
        {
            _embed.weight!.normal_(0, 1, generator);
            _head.weight!.normal_(0, 0.2, generator);
        }

        _embed.weight!.requires_grad = false;
        _head.weight!.requires_grad = trainableHead;
        for (int i = 0; i < 2; i++)
        {
            var up = randn([2 * hidden, hidden], generator: generator) * 0.2f;
            var down = randn([hidden, 2 * hidden], generator: generator) * 0.2f;
            nn.Module<Tensor, Tensor> upBase = nf4 ? Nf4Linear.FromWeight(up, null) : PlainLinear(up);
            nn.Module<Tensor, Tensor> downBase = nf4 ? Nf4Linear.FromWeight(down, null) : PlainLinear(down);
            _blocks.Add((new LoraLinear(upBase, hidden, 2 * hidden, 4, 2, dropout, generator),
                new LoraLinear(downBase, 2 * hidden, hidden, 4, 2, dropout, generator)));
        }
    }

    public int? PoisonFromCall { get; set; }

    public Device Device => CPU;

    public ScalarType ComputeDtype => ScalarType.Float32;

    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters =>
        _blocks.SelectMany((b, i) => new[]
        {
            ($"layers.{i}.up.lora_A.weight", b.Up.LoraA), ($"layers.{i}.up.lora_B.weight", b.Up.LoraB),
            ($"layers.{i}.down.lora_A.weight", b.Down.LoraA), ($"layers.{i}.down.lora_B.weight", b.Down.LoraB),
        }).Concat(_head.weight!.requires_grad ? [("lm_head.weight", _head.weight!)] : []).ToArray();

    public Tensor ForwardHidden(Tensor inputIds, GradientCheckpointing checkpointing, long seed, Action<int>? layerBackwardDone = null, int? checkpointedLayers = null,
        ActivationOffload? activationOffload = null)
    {
        var h = _embed.forward(inputIds);
        for (int i = 0; i < _blocks.Count; i++)
        {
            var (up, down) = _blocks[i];
            int index = i;
            h = CheckpointedFunction.Run(x => x + down.forward(nn.functional.gelu(up.forward(x))), h, checkpointing, seed + i,
                layerBackwardDone is null ? null : () => layerBackwardDone(index), activations: activationOffload?.RegionFor(i, _blocks.Count));
        }

        h = nn.functional.layer_norm(h, [h.shape[^1]]);
        return ++_calls >= PoisonFromCall ? h * float.NaN : h;
    }

    public Tensor LmHead(Tensor hidden) => _head.forward(hidden);

    public void SetTraining(bool training)
    {
        foreach (var (up, down) in _blocks)
        {
            up.train(training);
            down.train(training);
        }
    }

    public void SaveAdapter(string directory)
    {
        Directory.CreateDirectory(directory);
        NamedTensorFile.Write(Path.Combine(directory, "adapter.bin"), TrainableParameters.ToDictionary(p => p.Name, p => (Tensor)p.Parameter));
    }

    public void Dispose()
    {
        _embed.Dispose();
        _head.Dispose();
        foreach (var (up, down) in _blocks)
        {
            up.Dispose();
            down.Dispose();
        }
    }

    private static Linear PlainLinear(Tensor weight)
    {
        var linear = nn.Linear(weight.shape[1], weight.shape[0], hasBias: false);
        using (no_grad())
        {
            linear.weight!.copy_(weight);
        }

        return linear;
    }

    /// <summary>Arithmetic sequences mod the vocabulary: a 3-token prompt (masked) and a predictable completion.</summary>
    public static InMemorySamples ArithmeticSamples(int count, int vocab = 24, int seed = 5)
    {
        var random = new Random(seed);
        var samples = new List<TrainingSample>();
        for (int i = 0; i < count; i++)
        {
            int start = random.Next(vocab);
            int step = 1 + random.Next(3);
            int length = 8 + random.Next(9);
            var ids = Enumerable.Range(0, length).Select(k => (start + k * step) % vocab).ToArray();
            var mask = Enumerable.Range(0, length).Select(k => (byte)(k < 3 ? 0 : 1)).ToArray();
            samples.Add(new TrainingSample(ids, mask));
        }

        return new InMemorySamples(samples);
    }
}

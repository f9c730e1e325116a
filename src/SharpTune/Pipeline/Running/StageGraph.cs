namespace SharpTune.Pipeline.Running;

/// <summary>The stages of a pipeline and their dependencies, checked for unknown inputs and cycles.</summary>
public sealed class StageGraph
{
    private readonly Dictionary<string, IPipelineStage> _byName;

    public StageGraph(IEnumerable<IPipelineStage> stages)
    {
        Stages = stages.ToList();
        _byName = new Dictionary<string, IPipelineStage>(StringComparer.OrdinalIgnoreCase);
        foreach (var stage in Stages)
        {
            if (!_byName.TryAdd(stage.Name, stage))
            {
                throw new ArgumentException($"two stages are named {stage.Name}");
            }
        }

        foreach (var stage in Stages)
        {
            foreach (string input in stage.Inputs)
            {
                if (!_byName.ContainsKey(input))
                {
                    throw new ArgumentException($"stage {stage.Name} reads {input}, which is not a stage");
                }
            }
        }

        foreach (var stage in Stages)
        {
            _ = Closure(stage.Name);
        }
    }

    public IReadOnlyList<IPipelineStage> Stages { get; }

    public IEnumerable<string> Names => Stages.Select(s => s.Name);

    /// <summary>The stage named <paramref name="name"/> (case-insensitive); a user error naming the stages otherwise.</summary>
    public IPipelineStage Get(string name) => _byName.TryGetValue(name, out var stage)
        ? stage
        : throw new SharpTuneException($"unknown stage '{name}'" +
            (Config.KeySuggestion.Closest(name, Names) is { } close ? $" (did you mean '{close}'?)" : "") +
            $"; stages: {string.Join(", ", Names)}");

    /// <summary><paramref name="target"/> and everything it depends on, each after its inputs.</summary>
    public IReadOnlyList<IPipelineStage> Closure(string target)
    {
        var order = new List<IPipelineStage>();
        var state = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase); // false: visiting, true: done
        Visit(Get(target));
        return order;

        void Visit(IPipelineStage stage)
        {
            if (state.TryGetValue(stage.Name, out bool done))
            {
                if (!done)
                {
                    throw new ArgumentException($"stages depend on each other in a cycle through {stage.Name}");
                }

                return;
            }

            state[stage.Name] = false;
            foreach (string input in stage.Inputs)
            {
                Visit(_byName[input]);
            }

            state[stage.Name] = true;
            order.Add(stage);
        }
    }

    /// <summary>The stages that read <paramref name="stage"/>'s artifact, directly or not.</summary>
    public IReadOnlyList<string> Downstream(string stage) =>
        Stages.Where(s => !s.Name.Equals(stage, StringComparison.OrdinalIgnoreCase)
            && Closure(s.Name).Any(d => d.Name.Equals(stage, StringComparison.OrdinalIgnoreCase))).Select(s => s.Name).ToList();
}

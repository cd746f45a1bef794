using ModelBox.Domain.Search;

namespace ModelBox.Domain.Tests;

public sealed class FilterParserTests
{
    [Fact]
    public void And_binds_tighter_than_or_and_parentheses_override_it()
    {
        var node = FilterParser.Parse("name = 'a' or owner = 'b' and task = 'c'", SearchTarget.Models);
        var or = Assert.IsType<OrNode>(node);
        Assert.IsType<ComparisonNode>(or.Left);
        Assert.IsType<AndNode>(or.Right);

        var grouped = Assert.IsType<AndNode>(FilterParser.Parse("(name = 'a' or owner = 'b') and task = 'c'", SearchTarget.Models));
        Assert.IsType<OrNode>(grouped.Left);
    }

    [Fact]
    public void Fields_resolve_to_labels_metadata_metrics_and_attributes()
    {
        var node = Assert.IsType<AndNode>(FilterParser.Parse(
            "metrics.accuracy > 0.9 AND labels.env = 'production'", SearchTarget.Experiments));
        var metric = Assert.IsType<ComparisonNode>(node.Left);
        Assert.Equal(FieldSource.Metric, metric.Field.Source);
        Assert.Equal("accuracy", metric.Field.Key);
        Assert.Equal(ComparisonOperator.Greater, metric.Operator);
        Assert.Equal(0.9, metric.Value.Value);
        var label = Assert.IsType<ComparisonNode>(node.Right);
        Assert.Equal(FieldSource.Label, label.Field.Source);
        Assert.Equal("production", label.Value.Value);

        var framework = Assert.IsType<ComparisonNode>(FilterParser.Parse("framework = 'pytorch'", SearchTarget.ModelVersions));
        Assert.Equal(SearchAttribute.Framework, framework.Field.Attribute);
        Assert.Equal((long)Framework.PyTorch, framework.Value.Value);

        var slashKey = Assert.IsType<ComparisonNode>(FilterParser.Parse("metrics.train/loss <= 1e-2", SearchTarget.Experiments));
        Assert.Equal("train/loss", slashKey.Field.Key);
        Assert.Equal(0.01, slashKey.Value.Value);
    }

    [Fact]
    public void In_not_in_has_not_and_quoted_strings_parse()
    {
        var @in = Assert.IsType<InNode>(FilterParser.Parse("labels.env IN ('prod', 'staging')", SearchTarget.Models));
        Assert.Equal(["prod", "staging"], @in.Values.Select(v => v.Value));
        var notIn = Assert.IsType<NotNode>(FilterParser.Parse("owner not in ('x')", SearchTarget.Models));
        Assert.IsType<InNode>(notIn.Operand);
        var has = Assert.IsType<NotNode>(FilterParser.Parse("NOT has(metadata.lr)", SearchTarget.Experiments));
        Assert.Equal(FieldSource.Metadata, Assert.IsType<HasNode>(has.Operand).Field.Source);
        var quoted = Assert.IsType<ComparisonNode>(FilterParser.Parse("name = 'it''s'", SearchTarget.Models));
        Assert.Equal("it's", quoted.Value.Value);
        var boolean = Assert.IsType<ComparisonNode>(FilterParser.Parse("metadata.finetuned == true", SearchTarget.Models));
        Assert.Equal(true, boolean.Value.Value);
        Assert.Null(FilterParser.Parse("   ", SearchTarget.Models));
    }

    [Theory]
    [InlineData("name = ", 8, "expected a value")]
    [InlineData("name = 'a' and", 15, "ends where a condition")]
    [InlineData("(name = 'a'", 12, "expected ')'")]
    [InlineData("name = 'a')", 11, "unbalanced ')'")]
    [InlineData("colour = 'red'", 1, "unknown field 'colour'")]
    [InlineData("name = 'a' and labels.env > 3", 29, "labels are text")]
    [InlineData("metrics.acc > 'high'", 15, "is a number")]
    [InlineData("name ~ 'a'", 6, "unexpected character '~'")]
    [InlineData("name = 'open", 8, "not closed")]
    [InlineData("description = 3", 15, "is text; quote")]
    [InlineData("name = production", 8, "quote text values")]
    [InlineData("name 'a'", 6, "expected a comparison")]
    [InlineData("status = 'running'", 1, "unknown field 'status'")]
    [InlineData("metrics.x ! 1", 11, "'!' must be followed by '='")]
    [InlineData("owner in ('a' 'b')", 15, "expected ',' or ')'")]
    public void Mistakes_are_invalid_arguments_that_name_their_position(string filter, int position, string message)
    {
        var error = Assert.Throws<ModelBoxException>(() => FilterParser.Parse(filter, SearchTarget.Models));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"at position {position}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deep_nesting_is_refused_instead_of_overflowing_the_stack()
    {
        var filter = new string('(', 100) + "name = 'a'" + new string(')', 100);
        var error = Assert.Throws<ModelBoxException>(() => FilterParser.Parse(filter, SearchTarget.Models));
        Assert.Contains("nests deeper", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_selectors_parse_every_requirement_form()
    {
        var node = LabelSelector.Parse("env=production,privacy!=pii, team, !legacy, tier in (gold, silver), zone notin (eu)");
        var requirements = new List<FilterNode>();
        void Flatten(FilterNode n)
        {
            if (n is AndNode and)
            {
                Flatten(and.Left);
                Flatten(and.Right);
            }
            else
            {
                requirements.Add(n);
            }
        }

        Flatten(node!);
        Assert.Equal(6, requirements.Count);
        Assert.Equal("production", Assert.IsType<ComparisonNode>(requirements[0]).Value.Value);
        Assert.IsType<ComparisonNode>(Assert.IsType<NotNode>(requirements[1]).Operand);
        Assert.Equal("team", Assert.IsType<HasNode>(requirements[2]).Field.Key);
        Assert.IsType<HasNode>(Assert.IsType<NotNode>(requirements[3]).Operand);
        Assert.Equal(2, Assert.IsType<InNode>(requirements[4]).Values.Count);
        Assert.IsType<InNode>(Assert.IsType<NotNode>(requirements[5]).Operand);
    }

    [Theory]
    [InlineData("env=prod;x=y", 9)]
    [InlineData("env in prod", 8)]
    [InlineData("=prod", 1)]
    [InlineData("tier in (a b)", 12)]
    public void Bad_selectors_name_their_position(string selector, int position)
    {
        var error = Assert.Throws<ModelBoxException>(() => LabelSelector.Parse(selector));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal([new InputName("label selector")], error.Text.Inputs);
        Assert.StartsWith("label selector:", error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"at position {position}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Order_by_accepts_sortable_fields_and_refuses_others()
    {
        Assert.Equal(new SearchOrder(SearchAttribute.Name, false), SearchQueries.ParseOrder("name"));
        Assert.Equal(new SearchOrder(SearchAttribute.UpdatedAt, true), SearchQueries.ParseOrder("updated_at DESC"));
        Assert.Equal(new SearchOrder(SearchAttribute.CreatedAt, true), SearchQueries.ParseOrder(""));
        Assert.Throws<ModelBoxException>(() => SearchQueries.ParseOrder("owner"));
        Assert.Throws<ModelBoxException>(() => SearchQueries.ParseOrder("name sideways"));
    }
}

public sealed class ModelReferenceTests
{
    [Fact]
    public void References_split_into_namespace_model_and_alias_or_version()
    {
        Assert.Equal(("langtech", "wav2vec", "production", (string?)null), Operations.ModelGovernance.ParseReference("langtech/wav2vec@production"));
        Assert.Equal(("langtech", "wav2vec", (string?)null, "1.2"), Operations.ModelGovernance.ParseReference("langtech/wav2vec:1.2"));
        Assert.Equal(("default", "wav2vec", "staging", (string?)null), Operations.ModelGovernance.ParseReference("wav2vec@staging"));
        Assert.Throws<ModelBoxException>(() => Operations.ModelGovernance.ParseReference("langtech/wav2vec"));
        Assert.Equal(("lang/tech/asr", "wav2vec", "production", (string?)null), Operations.ModelGovernance.ParseReference("lang/tech/asr/wav2vec@production"));
        Assert.Throws<ModelBoxException>(() => Operations.ModelGovernance.ParseReference("lang tech/m@a"));
    }

    [Fact]
    public void Framework_values_outside_the_enum_name_their_position()
    {
        var error = Assert.Throws<ModelBoxException>(() => Search.FilterParser.Parse("framework = 'caffe'", Search.SearchTarget.ModelVersions));
        Assert.EndsWith("at position 13", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_selector_may_have_64_requirements_and_not_65()
    {
        Assert.NotNull(LabelSelector.Parse(string.Join(',', Enumerable.Repeat("a=b", LabelSelector.MaxRequirements))));
        var error = Assert.Throws<ModelBoxException>(() => LabelSelector.Parse(string.Join(',', Enumerable.Repeat("a=b", LabelSelector.MaxRequirements + 1))));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains($"the limit is {LabelSelector.MaxRequirements}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_filter_may_have_64_comparisons_and_not_65()
    {
        static string Filter(int comparisons) => string.Join(" and ", Enumerable.Repeat("name = 'a'", comparisons - 1).Append("has(labels.x)"));

        Assert.NotNull(FilterParser.Parse(Filter(FilterParser.MaxComparisons), SearchTarget.Models));
        var error = Assert.Throws<ModelBoxException>(() => FilterParser.Parse(Filter(FilterParser.MaxComparisons + 1), SearchTarget.Models));

        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains($"the limit is {FilterParser.MaxComparisons}", error.Message, StringComparison.Ordinal);
    }
}
